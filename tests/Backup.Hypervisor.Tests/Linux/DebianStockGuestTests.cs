using System.Diagnostics;
using Backup.Disks.BlockDevices;
using Backup.Hypervisor.Boot;
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
/// its messages from then on must come out of both. The same kernel and initramfs also boot from an extlinux disk
/// through OpenSBI and U-Boot, on both machines.
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

    /// <summary>
    /// The way a distribution's disk image boots on virt: Debian's OpenSBI and U-Boot, unmodified, read
    /// extlinux.conf from the disk's ext4 partition and boot the stock kernel and initramfs stored there; /init then
    /// mounts that same partition. On qemu-system-riscv64 (the reference, the same firmware files) and on our core.
    /// </summary>
    [Fact]
    public void Stock_kernel_and_initrd_boot_from_an_extlinux_disk_through_opensbi_and_u_boot_on_qemu_and_on_our_core()
    {
        var guest = DebianStockGuest.Locate();
        string qemuDisk = NewBootDisk(guest);
        string ourDisk = NewBootDisk(guest);
        try
        {
            var (code, qemuConsole, _, qemuTime) = QemuRiscv.BootFirmware(FirmwareBoot.DefaultOpenSbiPath, FirmwareBoot.DefaultUBootPath, qemuDisk, TimeSpan.FromMinutes(3));
            output.WriteLine($"qemu-system-riscv64 (OpenSBI + U-Boot): exit {code} after {qemuTime.TotalSeconds:F2} s");
            AssertFirmwareBooted("qemu-system-riscv64", qemuConsole, code == 0, $"exit code {code}");
            Assert.Equal(DebianStockGuest.GuestFileContent, Ext4Image.ReadFile(qemuDisk, "/from-guest.txt", ExtlinuxDisk.PartitionOffset));

            var (exit, ourConsole, ourTime, toInit, _) = BootOurs(new VmConfiguration
            {
                Firmware = FirmwareBoot.OpenSbiUBoot(),
                MemorySize = 256UL << 20,
                Clock = ClockMode.RealTime,
                Execution = ExecutionMode.Translated,
            }, ourDisk);
            output.WriteLine($"ours (OpenSBI + U-Boot): {exit} after {ourTime.TotalSeconds:F2} s (/init reached after {toInit?.TotalSeconds.ToString("F2") ?? "never"} s)");
            AssertFirmwareBooted("our core", ourConsole, exit.Kind == VmExitKind.PowerOff, exit.ToString());
            Assert.Equal(DebianStockGuest.GuestFileContent, Ext4Image.ReadFile(ourDisk, "/from-guest.txt", ExtlinuxDisk.PartitionOffset));
            Assert.Equal(HostFileContent + "\n", Ext4Image.ReadFile(ourDisk, "/from-host.txt", ExtlinuxDisk.PartitionOffset));
        }
        finally
        {
            File.Delete(qemuDisk);
            File.Delete(ourDisk);
        }
    }

    private static string NewBootDisk(DebianStockGuest guest)
    {
        string path = Path.Combine(Path.GetTempPath(), $"debian-stock-boot-{Guid.NewGuid():N}.img");
        ExtlinuxDisk.Create(path, 64L << 20, new Dictionary<string, byte[]>
        {
            ["boot/Image"] = File.ReadAllBytes(guest.KernelPath),
            ["boot/initrd.img"] = File.ReadAllBytes(guest.InitrdPath),
            ["extlinux/extlinux.conf"] = ExtlinuxDisk.Config("console=ttyS0", "/boot/initrd.img"),
            ["from-host.txt"] = System.Text.Encoding.ASCII.GetBytes(HostFileContent + "\n"),
        });
        return path;
    }

    private static void AssertFirmwareBooted(string machine, string console, bool poweredOff, string how)
    {
        AssertRanToPowerOff(machine, console, poweredOff, how);
        int at = 0;
        foreach (string milestone in new[] { "OpenSBI v", "U-Boot 20", "Found /extlinux/extlinux.conf", "Starting kernel ...", "Run /init as init process", "debian-stock: mounted /dev/vda1" })
        {
            int found = console.IndexOf(milestone, at, StringComparison.Ordinal);
            Assert.True(found >= 0, $"{machine}: '{milestone}' missing (or out of order) on the console:\n{console}");
            at = found + milestone.Length;
        }
    }

    private static string NewDataDisk()
    {
        string path = Path.Combine(Path.GetTempPath(), $"debian-stock-data-{Guid.NewGuid():N}.ext4");
        Ext4Image.Create(path, 16, new Dictionary<string, string> { ["from-host.txt"] = HostFileContent + "\n" });
        return path;
    }

    /// <summary>Boots the kernel and initrd directly on our core (translated, real time, 256 MiB).</summary>
    private static (VmExit Exit, string Console, TimeSpan Elapsed, TimeSpan? ToInit, long HvcBytes) BootOurs(DebianStockGuest guest, string diskPath) =>
        BootOurs(new VmConfiguration
        {
            KernelPath = guest.KernelPath,
            InitrdPath = guest.InitrdPath,
            MemorySize = 256UL << 20,
            CommandLine = CommandLine,
            Clock = ClockMode.RealTime,
            Execution = ExecutionMode.Translated,
        }, diskPath);

    /// <summary>Boots <paramref name="config"/> with <paramref name="diskPath"/> as its disk; stops at once on a kernel panic.</summary>
    private static (VmExit Exit, string Console, TimeSpan Elapsed, TimeSpan? ToInit, long HvcBytes) BootOurs(VmConfiguration config, string diskPath)
    {
        using var disk = RawFileDisk.Open(diskPath, readOnly: false);
        var console = new ConsoleCapture();
        var stopwatch = Stopwatch.StartNew();
        TimeSpan? toInit = null;
        VirtualMachine? machine = null;
        var line = new System.Text.StringBuilder();
        using var vm = new VirtualMachine(config with { Disks = [disk] }, b =>
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
