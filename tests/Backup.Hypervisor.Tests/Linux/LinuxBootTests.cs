using System.Text;
using Backup.Disks.BlockDevices;
using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Tests.Support;
using Backup.TestSupport;
using Backup.Hypervisor.Timing;
using Backup.Hypervisor.Translation;

namespace Backup.Hypervisor.Tests.Linux;

/// <summary>The real Linux guest on the real machine: boot, disk I/O seen by the host, clean power-off.</summary>
public sealed class LinuxBootTests
{
    [Theory]
    [InlineData(ExecutionMode.Interpreter)]
    [InlineData(ExecutionMode.Translated)]
    public void Guest_boots_writes_its_disk_block_and_powers_off(ExecutionMode mode)
    {
        string diskPath = Path.Combine(Path.GetTempPath(), $"guest-disk-{Guid.NewGuid():N}.img");
        try
        {
            using (var disk = RawFileDisk.Create(diskPath, 16L << 20))
            {
                var console = new ConsoleCapture();
                var config = new VmConfiguration
                {
                    KernelPath = GuestImage.KernelPath,
                    MemorySize = 64UL << 20,
                    CommandLine = "console=ttyS0 guest.poweroff=0",
                    Disks = [disk],
                    Clock = ClockMode.Deterministic,
                    InstructionLimit = 2_000_000_000,
                    Execution = mode,
                };
                using var vm = new VirtualMachine(config, console.Write);
                var exit = vm.Run();

                Assert.True(exit.Kind == VmExitKind.PowerOff, $"{exit}\n--- console ---\n{console.Text}");
                Assert.Contains("guest: ready", console.Text, StringComparison.Ordinal);
                Assert.Contains("guest: disk write ok", console.Text, StringComparison.Ordinal);
            }

            byte[] image = File.ReadAllBytes(diskPath);
            string sector1 = Encoding.ASCII.GetString(image, GuestDiskLayout.BlockOffset, GuestDiskLayout.Magic.Length);
            Assert.Equal(GuestDiskLayout.Magic, sector1);
        }
        finally
        {
            File.Delete(diskPath);
        }
    }

    [Theory]
    [InlineData(ExecutionMode.Interpreter)]
    [InlineData(ExecutionMode.Translated)]
    public void Guest_boots_on_two_harts_in_real_time(ExecutionMode mode)
    {
        var console = new ConsoleCapture();
        var config = new VmConfiguration
        {
            KernelPath = GuestImage.KernelPath,
            MemorySize = 64UL << 20,
            CpuCount = 2,
            CommandLine = "console=ttyS0 guest.poweroff=0",
            InstructionLimit = 2_000_000_000,
            Execution = mode,
        };
        using var vm = new VirtualMachine(config, console.Write);
        var exit = vm.Run();

        Assert.True(exit.Kind == VmExitKind.PowerOff, $"{exit}\n--- console ---\n{console.Text}");
        Assert.Contains("guest: ready", console.Text, StringComparison.Ordinal);
        Assert.Contains("smp: Brought up 1 node, 2 CPUs", console.Text, StringComparison.Ordinal);
    }
}
