using Backup.Hypervisor.Tests.Cpu;
using Backup.Hypervisor.Translation;

namespace Backup.Hypervisor.Tests.Translation;

/// <summary>
/// F/D code runs compiled: a loop of FP loads, arithmetic, FMA, conversions and stores leaves the same registers,
/// fcsr and memory as the interpreter, with nearly every instruction executed by translated code.
/// </summary>
public class FloatTranslationTests
{
    private const string Loop = """
            li t0, 0x2000
            csrs mstatus, t0
            fsrmi 0
            li s0, DATA
            li t0, 0x3ff0000000000000
            sd t0, 0(s0)
            li t0, 0x3fb999999999999a
            sd t0, 8(s0)
            li t0, 0x3f800000
            sw t0, 16(s0)
            li s1, 2000
        1:  fld fa0, 0(s0)
            fld fa1, 8(s0)
            fmadd.d fa2, fa0, fa1, fa0
            fdiv.d fa3, fa2, fa1, rtz
            fsqrt.d fa4, fa3
            fsub.d fa0, fa4, fa1, dyn
            fsd fa0, 0(s0)
            flw fa5, 16(s0)
            fcvt.s.d fa6, fa0
            fadd.s fa5, fa5, fa6
            fsw fa5, 16(s0)
            feq.d a0, fa0, fa1
            fcvt.l.d a1, fa3
            fmv.x.d a2, fa2
            fsgnjn.d fa7, fa0, fa0
            fmin.d fa7, fa7, fa0
            fclass.d a3, fa7
            addi s1, s1, -1
            bnez s1, 1b
            frcsr a4
            HALT
        """;

    [Fact]
    public void An_fp_loop_runs_compiled_with_the_interpreter_s_results()
    {
        ulong[] interpreted = Run(ExecutionMode.Interpreter, out _, out _);
        ulong[] translated = Run(ExecutionMode.Translated, out long compiled, out ulong retired);
        Assert.Equal(interpreted, translated);
        Assert.True(compiled > (long)retired * 9 / 10, $"only {compiled} of {retired} instructions ran compiled");
    }

    private static ulong[] Run(ExecutionMode mode, out long compiled, out ulong retired)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine(Loop);
        m.Run(budget: 2_000_000);
        compiled = mode == ExecutionMode.Translated ? m.Hart.TranslationStatistics.InstructionsTranslated : 0;
        retired = m.Hart.Instret;
        var state = new List<ulong> { m.X("a0"), m.X("a1"), m.X("a2"), m.X("a3"), m.X("a4"), m.Read64(RiscvTestMachine.Data), m.Read64(RiscvTestMachine.Data + 16) };
        for (int r = 0; r < 32; r++)
        {
            state.Add(m.Hart.GetFloatRegister(r));
        }

        return [.. state];
    }
}
