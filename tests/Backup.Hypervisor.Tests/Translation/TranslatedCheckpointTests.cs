using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Tests.Support;
using Backup.Hypervisor.Timing;
using Backup.Hypervisor.Translation;
using Backup.TestSupport;

namespace Backup.Hypervisor.Tests.Translation;

/// <summary>
/// In deterministic mode the translated tier is indistinguishable from the interpreter: the real Linux guest reaches
/// the same complete machine state (harts, devices, every RAM page) at the same instruction count, and a checkpoint
/// cut while translated code runs restores into an interpreter VM that continues exactly as the interpreter would.
/// </summary>
public sealed class TranslatedCheckpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("translated-checkpoint-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static VmConfiguration Config(ExecutionMode mode) => new()
    {
        KernelPath = GuestImage.KernelPath,
        MemorySize = 64UL << 20,
        CommandLine = "console=ttyS0 guest.heartbeat=1 guest.poweroff=2",
        Clock = ClockMode.Deterministic,
        Execution = mode,
        SynchronousTranslation = true,
    };

    [Fact]
    public async Task Checkpoint_taken_in_translated_mode_equals_the_interpreters()
    {
        // The cut falls in the middle of the boot; the guest then powers off by itself (before n + m).
        const ulong n = 6_000_000, m = 200_000_000;
        string state = Path.Combine(_dir, "translated.vmstate");

        byte[] interpreterAtN, interpreterAtEnd;
        VmExit interpreterExit;
        string interpreterAfterCut;
        using (var vm = new VirtualMachine(Config(ExecutionMode.Interpreter), _ => { }))
        {
            Assert.Equal(VmExitKind.Stopped, vm.RunUntil(n).Kind);
            interpreterAtN = vm.DigestState();
        }

        var console = new ConsoleCapture();
        using (var vm = new VirtualMachine(Config(ExecutionMode.Interpreter), console.Write))
        {
            vm.RunUntil(n);
            int mark = console.Text.Length;
            interpreterExit = vm.RunUntil(n + m);
            interpreterAtEnd = vm.DigestState();
            interpreterAfterCut = console.Text[mark..];
        }

        Assert.Equal(VmExitKind.PowerOff, interpreterExit.Kind);
        Assert.Contains("guest: ready", interpreterAfterCut, StringComparison.Ordinal);

        console = new ConsoleCapture();
        using (var vm = new VirtualMachine(Config(ExecutionMode.Translated), console.Write))
        {
            Assert.Equal(VmExitKind.Stopped, vm.RunUntil(n).Kind);
            Assert.True(vm.Harts[0].TranslationStatistics.InstructionsTranslated > 0, "no compiled code ran");
            Assert.Equal(interpreterAtN, vm.DigestState());
            var cut = vm.Checkpoint(state);
            await cut.Completion.WaitAsync(TimeSpan.FromMinutes(1));
            int mark = console.Text.Length;
            Assert.Equal(interpreterExit, vm.RunUntil(n + m));
            Assert.Equal(interpreterAtEnd, vm.DigestState());
            Assert.Equal(interpreterAfterCut, console.Text[mark..]);
        }

        // The translated cut restores into an interpreter VM that continues exactly as the interpreter did.
        console = new ConsoleCapture();
        using (var vm = VirtualMachine.Restore(Config(ExecutionMode.Interpreter), [state], console.Write))
        {
            Assert.Equal(interpreterExit, vm.RunUntil(n + m));
            Assert.Equal(interpreterAtEnd, vm.DigestState());
            Assert.Equal(interpreterAfterCut, console.Text);
        }
    }
}
