using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Tests.Support;
using Backup.Hypervisor.Timing;

namespace Backup.Hypervisor.Tests.Machine;

/// <summary>
/// Host-side faults while a guest runs (a console sink, a disk or a device backend throwing what nothing expected)
/// stop that VM with a reason, or are reported to the guest; they never escape onto the VM's thread, where they would
/// take the whole process, and every other VM in it, down.
/// </summary>
public sealed class HostFaultTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(1);

    private static VmConfiguration BareMetal(string elf, params FaultyDisk[] disks) => new()
    {
        ElfPath = elf,
        MemorySize = 16UL << 20,
        Clock = ClockMode.Deterministic,
        InstructionLimit = 50_000_000,
        Disks = disks,
    };

    [Fact]
    public void A_console_sink_that_throws_stops_that_vm_with_the_exception_named()
    {
        var log = new List<string>();
        int written = 0;
        using var vm = new VirtualMachine(BareMetal(HostilePrograms.ConsoleChatter()),
            _ =>
            {
                written++;
                throw new InvalidCastException("console sink fault injected by the test");
            },
            message => log.Add(message));
        vm.Start();
        Assert.True(vm.WaitForExit(Timeout, out var exit), "the VM did not stop");
        Assert.Equal(VmExitKind.Error, exit!.Kind);
        Assert.NotEqual(0, exit.ExitCode);
        Assert.Contains("host fault", exit.Message, StringComparison.Ordinal);
        Assert.Contains("System.InvalidCastException: console sink fault injected by the test", exit.Message, StringComparison.Ordinal);
        Assert.Contains(log, line => line.Contains("   at ", StringComparison.Ordinal)); // the stack goes to the host log

        // The machine is ended: it does not run again, and no checkpoint is taken of a state nobody can trust.
        Assert.Equal(exit, vm.Run());
        Assert.Equal(1, written);
        string state = Path.Combine(Path.GetTempPath(), $"faulted-{Guid.NewGuid():N}.vmstate");
        Assert.Throws<InvalidOperationException>(() => vm.Checkpoint(state));
        Assert.False(File.Exists(state));
    }

    [Fact]
    public void A_log_sink_that_throws_does_not_take_the_vm_thread_down_either()
    {
        using var vm = new VirtualMachine(BareMetal(HostilePrograms.ConsoleChatter()),
            _ => throw new FormatException("console fault"), _ => throw new ObjectDisposedException("log"));
        vm.Start();
        Assert.True(vm.WaitForExit(Timeout, out var exit), "the VM did not stop");
        Assert.Equal(VmExitKind.Error, exit!.Kind);
        Assert.Contains("System.FormatException: console fault", exit.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_disk_backend_that_throws_something_unexpected_is_reported_to_the_guest_as_needs_reset()
    {
        var disk = new FaultyDisk(1 << 20) { ReadFault = () => new KeyNotFoundException("disk backend fault injected by the test") };
        var log = new List<string>();
        var console = new ConsoleCapture();
        using var vm = new VirtualMachine(BareMetal(HostilePrograms.ReadExpectingDeviceNeedsReset(), disk), console.Write, log.Add);
        vm.Start();
        Assert.True(vm.WaitForExit(Timeout, out var exit), "the VM did not stop");
        Assert.True(exit!.Kind == VmExitKind.HtifExit && exit.ExitCode == 0, exit.ToString());
        Assert.Equal(1, disk.Reads);
        Assert.Contains(log, line => line.Contains("KeyNotFoundException", StringComparison.Ordinal) && line.Contains("needs reset", StringComparison.Ordinal));
    }

    [Fact]
    public void A_final_flush_that_fails_turns_a_clean_exit_into_an_error_naming_the_disk()
    {
        var disk = new FaultyDisk(1 << 20) { FlushFault = () => new NotSupportedException("flush fault injected by the test") };
        var log = new List<string>();
        using var vm = new VirtualMachine(BareMetal(HostilePrograms.Pass(), disk), _ => { }, log.Add);
        vm.Start();
        Assert.True(vm.WaitForExit(Timeout, out var exit), "the VM did not stop");
        Assert.Equal(VmExitKind.Error, exit!.Kind);
        Assert.False(exit.Succeeded);
        Assert.Contains("program passed", exit.Message, StringComparison.Ordinal);
        Assert.Contains("final flush of disk0 failed (System.NotSupportedException: flush fault injected by the test)", exit.Message, StringComparison.Ordinal);
    }
}
