using System.Diagnostics;
using System.Globalization;
using System.Text;
using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Timing;
using Backup.Hypervisor.Translation;
using Backup.TestSupport;

namespace Backup.Benchmarks;

/// <summary>
/// The stock Debian riscv64 kernel booting its initramfs (appliance/guest/debian-stock/build), 256 MiB, no disk:
/// wall time to the kernel's "Run /init as init process" line and to the initramfs' first marker (stock busybox
/// running), on our core (interpreter and translated, in process) and on qemu-system-riscv64 (TCG, process start),
/// as ratios. A milestone the guest never reaches (a kernel panic stops the run) is reported as such.
/// </summary>
public static class DebianStockBootBenchmark
{
    private const string RunInit = "Run /init as init process";

    public static int Run(BenchmarkOptions options)
    {
        var guest = DebianStockGuest.Locate();
        var results = new Dictionary<string, List<(double? Init, double? Marker, ulong Instructions)>>(StringComparer.Ordinal)
        {
            ["ours, interpreter"] = [],
            ["ours, translated"] = [],
            ["qemu-system-riscv64 (TCG)"] = [],
        };
        for (int i = 0; i < options.Runs; i++)
        {
            results["ours, interpreter"].Add(BootOurs(guest, ExecutionMode.Interpreter));
            results["ours, translated"].Add(BootOurs(guest, ExecutionMode.Translated));
            results["qemu-system-riscv64 (TCG)"].Add(BootQemu(guest));
        }

        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine($"stock Debian guest: {guest.Directory} (Image {new FileInfo(guest.KernelPath).Length} bytes, initrd {new FileInfo(guest.InitrdPath).Length} bytes), 256 MiB, {options.Runs} runs each, medians");
        Console.WriteLine($"| machine | to `{RunInit}` | to `{DebianStockGuest.InitMarker}` | guest instructions (to the last milestone reached) |");
        Console.WriteLine("| --- | --- | --- | --- |");
        foreach (var (name, runs) in results)
        {
            Console.WriteLine(string.Create(inv, $"| {name} | {Format(Median(runs.Select(r => r.Init)))} | {Format(Median(runs.Select(r => r.Marker)))} | {(runs[0].Instructions == 0 ? "n/a" : $"{runs[0].Instructions / 1e6:F0} M")} |"));
        }

        double? qemuInit = Median(results["qemu-system-riscv64 (TCG)"].Select(r => r.Init));
        double? qemuMarker = Median(results["qemu-system-riscv64 (TCG)"].Select(r => r.Marker));
        foreach (string ours in new[] { "ours, interpreter", "ours, translated" })
        {
            double? init = Median(results[ours].Select(r => r.Init));
            double? marker = Median(results[ours].Select(r => r.Marker));
            Console.WriteLine(string.Create(inv,
                $"ratio {ours} / qemu: to /init {Ratio(init, qemuInit)}, to the first marker {Ratio(marker, qemuMarker)}"));
        }

        return 0;
    }

    private static (double? Init, double? Marker, ulong Instructions) BootOurs(DebianStockGuest guest, ExecutionMode mode)
    {
        var line = new StringBuilder();
        var stopwatch = Stopwatch.StartNew();
        double? init = null, marker = null;
        ulong instructions = 0;
        VirtualMachine? machine = null;
        using var vm = new VirtualMachine(new VmConfiguration
        {
            KernelPath = guest.KernelPath,
            InitrdPath = guest.InitrdPath,
            MemorySize = 256UL << 20,
            CommandLine = "console=ttyS0",
            Clock = ClockMode.RealTime,
            Execution = mode,
        }, b =>
        {
            if (b != '\n')
            {
                line.Append((char)b);
                return;
            }

            string text = line.ToString();
            line.Clear();
            if (init is null && text.Contains(RunInit, StringComparison.Ordinal))
            {
                init = stopwatch.Elapsed.TotalSeconds;
                instructions = machine!.RetiredInstructions;
            }
            else if (text.Contains(DebianStockGuest.InitMarker, StringComparison.Ordinal))
            {
                marker = stopwatch.Elapsed.TotalSeconds;
                instructions = machine!.RetiredInstructions;
                machine.RequestStop("benchmark done");
            }
            else if (text.Contains("Kernel panic", StringComparison.Ordinal))
            {
                machine!.RequestStop("the guest kernel panicked");
            }
        });
        machine = vm;
        vm.Start();
        if (!vm.WaitForExit(TimeSpan.FromMinutes(10), out var exit))
        {
            vm.RequestStop("benchmark limit");
            exit = vm.WaitForExit();
        }

        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  ours ({mode}): /init {Format(init)}, marker {Format(marker)}; {exit}"));
        return (init, marker, instructions);
    }

    private static (double? Init, double? Marker, ulong Instructions) BootQemu(DebianStockGuest guest)
    {
        var info = new ProcessStartInfo("qemu-system-riscv64")
        {
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in new[] { "-M", "virt", "-m", "256M", "-smp", "1", "-nographic", "-no-reboot", "-kernel", guest.KernelPath, "-initrd", guest.InitrdPath, "-append", "console=ttyS0", "-device", "virtio-rng-device" })
        {
            info.ArgumentList.Add(a);
        }

        var stopwatch = Stopwatch.StartNew();
        using var process = Process.Start(info) ?? throw new InvalidOperationException("qemu-system-riscv64 did not start");
        var seen = new StringBuilder();
        var buffer = new char[4096];
        double? init = null;
        try
        {
            while (stopwatch.Elapsed < TimeSpan.FromMinutes(2))
            {
                int n = process.StandardOutput.Read(buffer, 0, buffer.Length);
                if (n <= 0)
                {
                    break;
                }

                seen.Append(buffer, 0, n);
                string text = seen.ToString();
                if (init is null && text.Contains(RunInit, StringComparison.Ordinal))
                {
                    init = stopwatch.Elapsed.TotalSeconds;
                }

                if (text.Contains(DebianStockGuest.InitMarker, StringComparison.Ordinal))
                {
                    return (init, stopwatch.Elapsed.TotalSeconds, 0);
                }
            }

            throw new InvalidOperationException($"qemu-system-riscv64 never printed '{DebianStockGuest.InitMarker}':\n{seen}");
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    private static double? Median(IEnumerable<double?> values)
    {
        var reached = values.Where(v => v.HasValue).Select(v => v!.Value).Order().ToArray();
        if (reached.Length == 0)
        {
            return null;
        }

        return reached.Length % 2 == 1 ? reached[reached.Length / 2] : (reached[(reached.Length / 2) - 1] + reached[reached.Length / 2]) / 2;
    }

    private static string Format(double? seconds) => seconds is { } s ? s.ToString("F2", CultureInfo.InvariantCulture) + " s" : "not reached";

    private static string Ratio(double? ours, double? qemu) =>
        ours is { } o && qemu is { } q ? (o / q).ToString("F2", CultureInfo.InvariantCulture) + "x" : "n/a (not reached)";
}
