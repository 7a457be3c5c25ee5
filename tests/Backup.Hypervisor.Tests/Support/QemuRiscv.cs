using System.Diagnostics;
using System.Text;

namespace Backup.Hypervisor.Tests.Support;

/// <summary>Runs qemu-system-riscv64 (-M virt, TCG) as the reference machine and collects its console.</summary>
internal static class QemuRiscv
{
    /// <summary>
    /// Boots <paramref name="kernel"/> with <paramref name="initrd"/> and a virtio-blk data disk (and a virtio-rng and a
    /// virtio console, as our machine has) in 256 MiB; returns the exit code (0 after the guest's power-off), the
    /// serial console, what the guest wrote to the virtio console (hvc0) and the time. Killed after
    /// <paramref name="timeout"/> (exit code -1).
    /// </summary>
    public static (int ExitCode, string Console, string Hvc, TimeSpan Elapsed) Boot(string kernel, string initrd, string disk, string commandLine, TimeSpan timeout) =>
        Run(["-kernel", kernel, "-initrd", initrd, "-append", commandLine], disk, timeout);

    /// <summary>
    /// Boots the way a distribution's disk image boots on virt: <paramref name="firmware"/> (OpenSBI fw_dynamic) as
    /// the BIOS and <paramref name="payload"/> (U-Boot) as the next stage, which boots from <paramref name="disk"/>.
    /// </summary>
    public static (int ExitCode, string Console, string Hvc, TimeSpan Elapsed) BootFirmware(string firmware, string payload, string disk, TimeSpan timeout) =>
        Run(["-bios", firmware, "-kernel", payload], disk, timeout);

    private static (int ExitCode, string Console, string Hvc, TimeSpan Elapsed) Run(string[] boot, string disk, TimeSpan timeout)
    {
        string hvc = Path.Combine(Path.GetTempPath(), $"qemu-hvc0-{Guid.NewGuid():N}.txt");
        var info = new ProcessStartInfo("qemu-system-riscv64")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string a in new[] { "-M", "virt", "-m", "256M", "-smp", "1", "-nographic", "-no-reboot" }.Concat(boot).Concat(new[]
        {
            "-drive", $"file={disk},format=raw,if=none,id=data", "-device", "virtio-blk-device,drive=data",
            "-device", "virtio-rng-device",
            "-chardev", $"file,id=hvc,path={hvc}", "-device", "virtio-serial-device", "-device", "virtconsole,chardev=hvc",
        }))
        {
            info.ArgumentList.Add(a);
        }

        var stopwatch = Stopwatch.StartNew();
        using var process = Process.Start(info) ?? throw new InvalidOperationException("qemu-system-riscv64 did not start");
        var console = new StringBuilder();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        bool exited = process.WaitForExit(timeout);
        if (!exited)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }

        console.Append(output.Result).Append(error.Result);
        string hvcText = File.Exists(hvc) ? File.ReadAllText(hvc) : string.Empty;
        File.Delete(hvc);
        return (exited ? process.ExitCode : -1, console.ToString(), hvcText, stopwatch.Elapsed);
    }
}
