using Backup.Disks.BlockDevices;
using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Tests.Support;
using Backup.TestSupport;
using Backup.Hypervisor.Timing;

namespace Backup.Hypervisor.Tests.Linux;

/// <summary>Several VMs in one process, each on its own thread with its own memory and disk, do not interfere.</summary>
public sealed class IsolationTests
{
    [Fact]
    public void Two_linux_vms_run_concurrently_on_their_own_threads_and_disks()
    {
        string[] paths = [Path.GetTempFileName(), Path.GetTempFileName()];
        var disks = new List<RawFileDisk>();
        var vms = new List<VirtualMachine>();
        var consoles = new List<ConsoleCapture>();
        try
        {
            for (int i = 0; i < 2; i++)
            {
                File.Delete(paths[i]);
                disks.Add(RawFileDisk.Create(paths[i], 8L << 20));
                var console = new ConsoleCapture();
                consoles.Add(console);
                vms.Add(new VirtualMachine(new VmConfiguration
                {
                    KernelPath = GuestImage.KernelPath,
                    MemorySize = (ulong)(64 + (32 * i)) << 20,
                    CommandLine = "console=ttyS0 guest.poweroff=0",
                    Disks = [disks[i]],
                    Clock = ClockMode.Deterministic,
                    InstructionLimit = 2_000_000_000,
                }, console.Write));
            }

            foreach (var vm in vms)
            {
                vm.Start();
            }

            for (int i = 0; i < 2; i++)
            {
                Assert.True(vms[i].WaitForExit(TimeSpan.FromMinutes(3), out var exit), "VM did not stop in time");
                Assert.True(exit!.Kind == VmExitKind.PowerOff, $"VM {i}: {exit}\n{consoles[i].Text}");
                Assert.Contains("guest: disk write ok", consoles[i].Text, StringComparison.Ordinal);
            }

            // Each guest saw its own RAM (64 and 96 MiB) and wrote its own disk.
            Assert.Contains("Initmem setup node 0 [mem 0x0000000080200000-0x0000000083ffffff]", consoles[0].Text, StringComparison.Ordinal);
            Assert.Contains("Initmem setup node 0 [mem 0x0000000080200000-0x0000000085ffffff]", consoles[1].Text, StringComparison.Ordinal);
            foreach (var disk in disks)
            {
                var block = new byte[GuestDiskLayout.Magic.Length];
                disk.Read(GuestDiskLayout.BlockOffset, block);
                Assert.Equal(GuestDiskLayout.Magic, System.Text.Encoding.ASCII.GetString(block));
            }
        }
        finally
        {
            foreach (var vm in vms)
            {
                vm.Dispose();
            }

            foreach (var disk in disks)
            {
                disk.Dispose();
            }

            foreach (var p in paths)
            {
                File.Delete(p);
            }
        }
    }
}
