using System.Text;
using Backup.Disks.BlockDevices;
using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Tests.Support;
using Backup.Hypervisor.Timing;
using Backup.TestSupport;

namespace Backup.Hypervisor.Tests.Machine;

/// <summary>
/// Isolation as the appliance needs it: hostile VMs run in the same process, at the same time, as the Linux guest;
/// each is stopped (or told off by its device) with a clear reason, and the Linux guest boots, writes its disk
/// block and powers off as if it were alone.
/// </summary>
public sealed class HostileNeighbourTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);

    private sealed record Neighbour(string Name, VirtualMachine Vm, ConsoleCapture Console, List<string> Log);

    [Fact]
    public void The_linux_guest_is_unaffected_by_hostile_vms_running_beside_it()
    {
        string image = Path.Combine(Path.GetTempPath(), $"isolation-{Guid.NewGuid():N}.img");
        var linuxDisk = RawFileDisk.Create(image, 8L << 20);
        var neighbours = new List<Neighbour>();
        VirtualMachine? linux = null;
        try
        {
            var linuxConsole = new ConsoleCapture();
            linux = new VirtualMachine(new VmConfiguration
            {
                KernelPath = GuestImage.KernelPath,
                MemorySize = 64UL << 20,
                // Two silent seconds of real time before the power-off: the guest is still running when the
                // neighbours start even if this thread is starved for a while on a loaded host (with poweroff=0 and
                // a deterministic clock the whole boot took under 150 ms, and a busy test run could miss it).
                CommandLine = "console=ttyS0 guest.poweroff=2",
                Disks = [linuxDisk],
                Clock = ClockMode.RealTime,
                InstructionLimit = 2_000_000_000,
            }, linuxConsole.Write);

            neighbours.Add(Create("wild DMA, looping chain, interrupt storm, trap to nowhere", HostilePrograms.WildDmaStormAndNowhereToTrap(),
                new FaultyDisk(1 << 20), console => console.Write));
            neighbours.Add(Create("device backend throws", HostilePrograms.ReadExpectingDeviceNeedsReset(),
                new FaultyDisk(1 << 20) { ReadFault = () => new KeyNotFoundException("disk backend fault injected by the test") }, console => console.Write));
            neighbours.Add(Create("console sink throws", HostilePrograms.ConsoleChatter(), null,
                _ => _ => throw new InvalidCastException("console sink fault injected by the test")));

            linux.Start();
            var booting = System.Diagnostics.Stopwatch.StartNew();
            while (!linuxConsole.Contains("Linux version") && booting.Elapsed < Timeout)
            {
                Thread.Sleep(10);
            }

            Assert.True(linuxConsole.Contains("Linux version"), "the Linux guest did not start:\n" + linuxConsole.Text);
            foreach (var n in neighbours)
            {
                n.Vm.Start();
            }

            // The hostile ones start while Linux boots: they really run side by side.
            Assert.False(linux.WaitForExit(TimeSpan.Zero, out var early), $"the Linux guest finished before its neighbours started: {early}\n{linuxConsole.Text}");

            var exits = new Dictionary<string, VmExit>();
            foreach (var n in neighbours)
            {
                Assert.True(n.Vm.WaitForExit(Timeout, out var exit), $"{n.Name}: did not stop");
                exits[n.Name] = exit!;
            }

            var wild = neighbours[0];
            var storm = exits[wild.Name];
            Assert.True(storm.Kind == VmExitKind.Error, $"{wild.Name}: {storm}\n{string.Join('\n', wild.Log)}");
            Assert.Contains("stuck", storm.Message, StringComparison.Ordinal);
            Assert.Contains("mtvec 0x40000000", storm.Message, StringComparison.Ordinal);
            Assert.Contains(wild.Log, line => line.Contains("outside guest RAM", StringComparison.Ordinal));
            Assert.Contains(wild.Log, line => line.Contains("loop", StringComparison.Ordinal) && line.Contains("needs reset", StringComparison.Ordinal));

            var told = exits[neighbours[1].Name];
            Assert.True(told.Kind == VmExitKind.HtifExit && told.ExitCode == 0, $"{neighbours[1].Name}: {told}");

            var faulted = exits[neighbours[2].Name];
            Assert.Equal(VmExitKind.Error, faulted.Kind);
            Assert.Contains("System.InvalidCastException: console sink fault injected by the test", faulted.Message, StringComparison.Ordinal);

            Assert.True(linux.WaitForExit(Timeout, out var linuxExit), "the Linux guest did not stop");
            Assert.True(linuxExit!.Kind == VmExitKind.PowerOff, $"{linuxExit}\n{linuxConsole.Text}");
            Assert.Contains("guest: ready", linuxConsole.Text, StringComparison.Ordinal);
            Assert.Contains("guest: disk write ok", linuxConsole.Text, StringComparison.Ordinal);

            linux.Dispose();
            linux = null;
            linuxDisk.Dispose();
            using var file = File.OpenRead(image);
            file.Position = GuestDiskLayout.BlockOffset;
            var magic = new byte[GuestDiskLayout.Magic.Length];
            file.ReadExactly(magic);
            Assert.Equal(GuestDiskLayout.Magic, Encoding.ASCII.GetString(magic));
        }
        finally
        {
            foreach (var n in neighbours)
            {
                n.Vm.Dispose();
            }

            linux?.Dispose();
            linuxDisk.Dispose();
            File.Delete(image);
        }
    }

    private static Neighbour Create(string name, string elf, FaultyDisk? disk, Func<ConsoleCapture, Action<byte>> console)
    {
        var capture = new ConsoleCapture();
        var log = new List<string>();
        var vm = new VirtualMachine(new VmConfiguration
        {
            ElfPath = elf,
            MemorySize = 16UL << 20,
            Clock = ClockMode.Deterministic,
            InstructionLimit = 100_000_000,
            Disks = disk is null ? [] : [disk],
        }, console(capture), message =>
        {
            lock (log)
            {
                log.Add(message);
            }
        });
        return new Neighbour(name, vm, capture, log);
    }
}
