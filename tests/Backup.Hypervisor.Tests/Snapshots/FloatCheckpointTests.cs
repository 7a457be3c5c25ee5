using Backup.Disks.BlockDevices;
using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Tests.Support;
using Backup.Hypervisor.Translation;
using Backup.TestSupport;

namespace Backup.Hypervisor.Tests.Snapshots;

/// <summary>
/// A checkpoint taken while FP registers, frm and fflags are live resumes bit-exact: the FP state is part of the hart
/// section (version 2), so the restored guest computes the same doubles and singles to the last bit.
/// </summary>
public sealed class FloatCheckpointTests : IDisposable
{
    private const int S11 = 27;

    // An iteration mixes doubles and singles, FMA, division and a dynamic rounding mode (RUP, set once: frm must
    // survive the cut); the results after 30000 iterations are printed, so a lost bit anywhere shows in the console.
    private const string Program = """
        main:
            li t0, 0x2000
            csrs mstatus, t0
            fsrmi 3
            li t0, 0x3ff0000000000000
            fmv.d.x fs0, t0
            li t0, 0x3ff0000010000000
            fmv.d.x fs1, t0
            li t0, 0x3f50624dd2f1a9fc
            fmv.d.x fs2, t0
            li t0, 0x3f800000
            fmv.w.x fs3, t0
            li t0, 0x40400000
            fmv.w.x fs4, t0
            li s10, 30000
            li s11, 1
        1:  fmadd.d fs0, fs0, fs1, fs2
            fdiv.d ft0, fs0, fs1
            fsqrt.d ft1, ft0
            fadd.d fs0, fs0, ft1
            fdiv.s fs3, fs3, fs4
            fadd.s fs3, fs3, fs4
            fcvt.s.d ft2, fs0
            fmul.s fs3, fs3, ft2
            fcvt.d.s ft3, fs3
            fsub.d fs0, fs0, ft3
            fmv.x.d t0, fs0
            srli t0, t0, 52
            li t1, 0x43f
            bltu t0, t1, 2f
            li t0, 0x3ff0000000000000
            fmv.d.x fs0, t0
        2:  addi s10, s10, -1
            bnez s10, 1b
            fmv.x.d a0, fs0
            call put_hex
            fmv.x.d a0, fs3
            call put_hex
            frcsr a0
            call put_hex
            j power_off
        """;

    private readonly string _dir = Directory.CreateTempSubdirectory("fp-checkpoint-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(ExecutionMode.Interpreter)]
    [InlineData(ExecutionMode.Translated)]
    public async Task A_checkpoint_with_live_fp_registers_resumes_bit_exact(ExecutionMode execution)
    {
        string diskPath = Path.Combine(_dir, "disk.img"), state = Path.Combine(_dir, "cut.vmstate");
        BareMetalGuest.CreateDisk(diskPath);
        using var disk = RawFileDisk.Open(diskPath);
        var config = BareMetalGuest.Config(BareMetalGuest.Build(Program), disk, execution);

        var console = new ConsoleCapture();
        string afterCut;
        using (var vm = new VirtualMachine(config, console.Write))
        {
            BareMetalGuest.RunUntilRegister(vm, S11, 1);
            Assert.Equal(VmExitKind.Stopped, vm.RunUntil(vm.RetiredInstructions + 200_000).Kind);
            var hart = vm.Harts[0];
            Assert.NotEqual(0x3FF0_0000_0000_0000UL, hart.GetFloatRegister(8)); // fs0 has moved on
            Assert.Equal(3u, hart.FloatControl >> 5); // frm = RUP
            Assert.NotEqual(0u, hart.FloatControl & 31); // flags raised (at least inexact)
            await vm.Checkpoint(state).Completion.WaitAsync(TimeSpan.FromMinutes(1));
            var exit = vm.Run();
            Assert.True(exit.Kind == VmExitKind.PowerOff, $"{exit}\n{console.Text}");
            afterCut = console.Text;
        }

        Assert.Equal(3, afterCut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        var restoredConsole = new ConsoleCapture();
        using (var restored = VirtualMachine.Restore(config, [state], restoredConsole.Write))
        {
            var exit = restored.Run();
            Assert.True(exit.Kind == VmExitKind.PowerOff, $"{exit}\n{restoredConsole.Text}");
        }

        Assert.Equal(afterCut, restoredConsole.Text);
    }
}
