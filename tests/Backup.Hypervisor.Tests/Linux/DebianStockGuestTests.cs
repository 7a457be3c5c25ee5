using System.Diagnostics;
using Backup.Disks.BlockDevices;
using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Tests.Support;
using Backup.Hypervisor.Timing;
using Backup.Hypervisor.Translation;
using Backup.TestSupport;
using Xunit.Abstractions;

namespace Backup.Hypervisor.Tests.Linux;

/// <summary>
/// Stock Debian trixie riscv64 — its own kernel, modules and busybox, unpacked from the registry's packages
/// (appliance/guest/debian-stock/build) — booted from an initramfs on qemu-system-riscv64 (the reference) and on our
/// core: /init loads the kernel's virtio and ext4 modules, mounts an ext4 data disk, reads the host's file, writes its
/// own, does floating-point arithmetic in busybox awk and powers off. Both machines must do all of it. The kernel's
/// consoles are hvc0 (a virtio console, live once /init has loaded virtio_mmio) and ttyS0 (the last, so /dev/console):
/// its messages from then on must come out of both.
/// </summary>
public sealed class DebianStockGuestTests(ITestOutputHelper output)
{
    private const string HostFileContent = "hello from the host";
    private const string CommandLine = "console=hvc0 console=ttyS0";
    private const string MountLine = "EXT4-fs (vda): mounted filesystem";

    private static readonly string[] Markers =
    [
        DebianStockGuest.InitMarker,
        "debian-stock: rtc goldfish_rtc",
        "debian-stock: hwrng virtio_rng",
        "debian-stock: mounted /dev/vda",
        $"debian-stock: read {HostFileContent}",
        "debian-stock: fp 1.634984 3.143",
        "debian-stock: unmounted",
        DebianStockGuest.DoneMarker,
    ];

    [Fact]
    public void Stock_kernel_and_busybox_boot_from_the_initrd_use_an_ext4_disk_and_power_off_on_qemu_and_on_our_core()
    {
        var guest = DebianStockGuest.Locate();
        string qemuDisk = NewDataDisk();
        string ourDisk = NewDataDisk();
        try
        {
            var (code, qemuConsole, qemuHvc, qemuTime) = QemuRiscv.Boot(guest.KernelPath, guest.InitrdPath, qemuDisk, CommandLine, TimeSpan.FromMinutes(3));
            output.WriteLine($"qemu-system-riscv64: exit {code} after {qemuTime.TotalSeconds:F2} s");
            AssertRanToPowerOff("qemu-system-riscv64", qemuConsole, code == 0, $"exit code {code}");
            Assert.Equal(DebianStockGuest.GuestFileContent, Ext4Image.ReadFile(qemuDisk, "/from-guest.txt"));
            Assert.True(qemuHvc.Contains(MountLine, StringComparison.Ordinal), $"qemu's hvc0 did not carry the kernel's messages:\n{qemuHvc}");

            var (exit, ourConsole, ourTime, toInit, hvcBytes) = BootOurs(guest, ourDisk);
            output.WriteLine($"ours: {exit} after {ourTime.TotalSeconds:F2} s (/init reached after {toInit?.TotalSeconds.ToString("F2") ?? "never"} s)");
            AssertRanToPowerOff("our core", ourConsole, exit.Kind == VmExitKind.PowerOff, exit.ToString());
            // Both consoles print into the one capture: the mount message twice, once through the virtio console.
            Assert.Equal(2, ourConsole.Split(MountLine).Length - 1);
            Assert.True(hvcBytes > MountLine.Length, $"the virtio console carried {hvcBytes} bytes");
            Assert.Equal(DebianStockGuest.GuestFileContent, Ext4Image.ReadFile(ourDisk, "/from-guest.txt"));
            Assert.Equal(HostFileContent + "\n", Ext4Image.ReadFile(ourDisk, "/from-host.txt"));
        }
        finally
        {
            File.Delete(qemuDisk);
            File.Delete(ourDisk);
        }
    }

    private static string NewDataDisk()
    {
        string path = Path.Combine(Path.GetTempPath(), $"debian-stock-data-{Guid.NewGuid():N}.ext4");
        Ext4Image.Create(path, 16, new Dictionary<string, string> { ["from-host.txt"] = HostFileContent + "\n" });
        return path;
    }

    /// <summary>Boots on our core (translated, real time, 256 MiB); stops at once on a kernel panic.</summary>
    private static (VmExit Exit, string Console, TimeSpan Elapsed, TimeSpan? ToInit, long HvcBytes) BootOurs(DebianStockGuest guest, string diskPath)
    {
        using var disk = RawFileDisk.Open(diskPath, readOnly: false);
        var console = new ConsoleCapture();
        var stopwatch = Stopwatch.StartNew();
        TimeSpan? toInit = null;
        VirtualMachine? machine = null;
        var line = new System.Text.StringBuilder();
        using var vm = new VirtualMachine(new VmConfiguration
        {
            KernelPath = guest.KernelPath,
            InitrdPath = guest.InitrdPath,
            Disks = [disk],
            MemorySize = 256UL << 20,
            CommandLine = CommandLine,
            Clock = ClockMode.RealTime,
            Execution = ExecutionMode.Translated,
        }, b =>
        {
            console.Write(b);
            if (b != '\n')
            {
                line.Append((char)b);
                return;
            }

            string text = line.ToString();
            line.Clear();
            if (toInit is null && text.Contains("Run /init as init process", StringComparison.Ordinal))
            {
                toInit = stopwatch.Elapsed;
            }

            if (text.Contains("Kernel panic", StringComparison.Ordinal))
            {
                machine!.RequestStop("the guest kernel panicked");
            }
        });
        machine = vm;
        vm.Start();
        if (!vm.WaitForExit(TimeSpan.FromMinutes(10), out var exit))
        {
            vm.RequestStop("the test's 10-minute limit");
            exit = vm.WaitForExit();
        }

        return (exit!, console.Text, stopwatch.Elapsed, toInit, vm.VirtioConsole.BytesTransmitted);
    }

    private static void AssertRanToPowerOff(string machine, string console, bool poweredOff, string how)
    {
        string tail = console.Length > 6000 ? console[^6000..] : console;
        foreach (string marker in Markers)
        {
            Assert.True(console.Contains(marker, StringComparison.Ordinal), $"{machine}: no '{marker}' on the console ({how})\n--- console (end) ---\n{tail}");
        }

        Assert.True(poweredOff, $"{machine}: the guest did not power off cleanly ({how})\n--- console (end) ---\n{tail}");
        Assert.DoesNotContain("debian-stock: insmod", console, StringComparison.Ordinal); // /init reports a module that failed to load
    }
}
