using Backup.Disks.BlockDevices;
using Backup.Hypervisor.Boot;
using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Tests.Support;
using Backup.Hypervisor.Timing;
using Backup.Hypervisor.Translation;
using Backup.TestSupport;

namespace Backup.Hypervisor.Tests.Linux;

/// <summary>
/// The guest firmware stack of QEMU's virt machine on ours, unmodified: Debian's OpenSBI fw_dynamic in M-mode,
/// Debian's U-Boot in S-mode reading extlinux.conf from an ext4 partition of a virtio disk, and the appliance's
/// own guest kernel booted by it (console, disk driver, power-off through SBI SRST into OpenSBI's syscon reset).
/// </summary>
public sealed class FirmwareBootTests
{
    [Theory]
    [InlineData(ExecutionMode.Interpreter, 1)]
    [InlineData(ExecutionMode.Translated, 1)]
    [InlineData(ExecutionMode.Interpreter, 2)] // OpenSBI parks hart 1 until Linux starts it (SBI HSM, a CLINT MSIP)
    public void The_guest_boots_from_extlinux_through_opensbi_and_u_boot_and_powers_off(ExecutionMode mode, int cpus)
    {
        RequireFirmware();
        string diskPath = Path.Combine(Path.GetTempPath(), $"extlinux-{Guid.NewGuid():N}.img");
        try
        {
            ExtlinuxDisk.Create(diskPath, 16L << 20, new Dictionary<string, byte[]>
            {
                ["boot/Image"] = File.ReadAllBytes(GuestImage.KernelPath),
                ["extlinux/extlinux.conf"] = ExtlinuxDisk.Config("console=ttyS0 guest.poweroff=0 guest.disktest=0"),
            });
            var (exit, console) = Boot(diskPath, mode, cpus);

            Assert.True(exit.Kind == VmExitKind.PowerOff && exit.Succeeded, $"{exit}\n--- console ---\n{console}");
            string[] milestones =
            [
                "OpenSBI v", "Domain0 Next Address      : 0x0000000080200000", "Boot HART PMP Count       : 16",
                "U-Boot 20", "Found /extlinux/extlinux.conf", "Starting kernel ...",
                "Kernel command line: console=ttyS0 guest.poweroff=0 guest.disktest=0", $"smp: Brought up 1 node, {cpus} CPU", "virtio_blk virtio0", "guest: ready",
                "guest: poweroff", "reboot: Power down",
            ];
            int at = 0;
            foreach (string milestone in milestones)
            {
                int found = console.IndexOf(milestone, at, StringComparison.Ordinal);
                Assert.True(found >= 0, $"'{milestone}' missing (or out of order) on the console:\n{console}");
                at = found + milestone.Length;
            }
        }
        finally
        {
            File.Delete(diskPath);
        }
    }

    [Fact]
    public async Task A_checkpoint_taken_inside_u_boot_resumes_with_its_pmp_and_boots_to_power_off()
    {
        RequireFirmware();
        string diskPath = Path.Combine(Path.GetTempPath(), $"extlinux-{Guid.NewGuid():N}.img");
        string state = Path.Combine(Path.GetTempPath(), $"firmware-{Guid.NewGuid():N}.vmstate");
        try
        {
            ExtlinuxDisk.Create(diskPath, 16L << 20, new Dictionary<string, byte[]>
            {
                ["boot/Image"] = File.ReadAllBytes(GuestImage.KernelPath),
                ["extlinux/extlinux.conf"] = ExtlinuxDisk.Config("console=ttyS0 guest.poweroff=0 guest.disktest=0"),
            });
            using var disk = RawFileDisk.Open(diskPath, readOnly: false);
            var config = Config(disk, ExecutionMode.Interpreter, 1);
            var before = new ConsoleCapture();
            using (var vm = new VirtualMachine(config, before.Write))
            {
                Assert.Equal(VmExitKind.Stopped, vm.RunUntil(40_000_000).Kind);
                Assert.Contains("U-Boot 20", before.Text, StringComparison.Ordinal);
                Assert.DoesNotContain("Starting kernel", before.Text, StringComparison.Ordinal);
                Assert.Equal(16, vm.Harts[0].PmpEntryCount);
                var cut = vm.Checkpoint(state);
                await cut.Completion.WaitAsync(TimeSpan.FromMinutes(1));
            }

            // OpenSBI does not run again: U-Boot and Linux only get through if PMP came back with the rest.
            var after = new ConsoleCapture();
            using (var vm = VirtualMachine.Restore(config, [state], after.Write))
            {
                var exit = vm.Run();
                Assert.True(exit.Kind == VmExitKind.PowerOff, $"{exit}\n--- console ---\n{after.Text}");
            }

            Assert.DoesNotContain("OpenSBI v", after.Text, StringComparison.Ordinal);
            Assert.Contains("guest: ready", after.Text, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(diskPath);
            File.Delete(state);
        }
    }

    [Fact]
    public void A_disk_without_extlinux_conf_stops_the_vm_with_a_clear_error()
    {
        RequireFirmware();
        string diskPath = Path.Combine(Path.GetTempPath(), $"extlinux-{Guid.NewGuid():N}.img");
        try
        {
            ExtlinuxDisk.Create(diskPath, 8L << 20, new Dictionary<string, byte[]> { ["readme.txt"] = "no boot files here"u8.ToArray() });
            var (exit, console) = Boot(diskPath, ExecutionMode.Interpreter, 1);

            Assert.True(exit.Kind == VmExitKind.Error && exit.ExitCode == 2, $"{exit}\n--- console ---\n{console}");
            Assert.Contains("U-Boot found nothing to boot", exit.Message, StringComparison.Ordinal);
            Assert.Contains("Scanning virtio 0:1", console, StringComparison.Ordinal);
            Assert.DoesNotContain("Starting kernel", console, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(diskPath);
        }
    }

    private static void RequireFirmware()
    {
        foreach (var (path, package) in new[] { (FirmwareBoot.DefaultOpenSbiPath, FirmwareBoot.OpenSbiPackage), (FirmwareBoot.DefaultUBootPath, FirmwareBoot.UBootPackage) })
        {
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"'{path}' is missing: install Debian's {package} (appliance/prereqs does)");
            }
        }
    }

    private static (VmExit Exit, string Console) Boot(string diskPath, ExecutionMode mode, int cpus)
    {
        using var disk = RawFileDisk.Open(diskPath, readOnly: false);
        var console = new ConsoleCapture();
        using var vm = new VirtualMachine(Config(disk, mode, cpus), console.Write);
        var exit = vm.Run();
        return (exit, console.Text);
    }

    private static VmConfiguration Config(IBlockDevice disk, ExecutionMode mode, int cpus) => new()
    {
        Firmware = FirmwareBoot.OpenSbiUBoot(),
        MemorySize = 256UL << 20,
        CpuCount = cpus,
        Disks = [disk],
        Clock = ClockMode.Deterministic,
        Execution = mode,
        SynchronousTranslation = true,
        InstructionLimit = 2_000_000_000,
    };
}
