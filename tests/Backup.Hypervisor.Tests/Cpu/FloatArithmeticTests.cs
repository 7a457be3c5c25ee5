using Backup.Hypervisor.Translation;
using static Backup.Hypervisor.Tests.Cpu.FloatAsm;

namespace Backup.Hypervisor.Tests.Cpu;

/// <summary>
/// F and D arithmetic through the hart (unprivileged spec, "F" and "D" chapters): every rounding mode, static and
/// dynamic, at ties and at overflow; the exception flags; fused multiply-add without double rounding; sqrt, min/max,
/// compares, classify and sign injection. Arithmetic itself is checked exhaustively against QEMU in Float/; these
/// cases pin the instruction wiring (operands, rm field, fflags accrual, NaN-boxing of single results).
/// </summary>
public class FloatArithmeticTests
{
    private const ulong One = 0x3FF0_0000_0000_0000, MinusOne = 0xBFF0_0000_0000_0000;
    private const ulong Half53 = 0x3CA0_0000_0000_0000; // 2^-53: half an ulp of 1.0
    private const ulong Max = 0x7FEF_FFFF_FFFF_FFFF, Inf = 0x7FF0_0000_0000_0000;

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Add_rounds_a_tie_in_every_static_mode(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        ulong[] positive = [One, One, One, One + 1, One + 1];
        ulong[] negative = [MinusOne, MinusOne, MinusOne + 1, MinusOne, MinusOne + 1];
        var cases = new List<AsmCase>();
        for (int rm = 0; rm < 5; rm++)
        {
            string r = RoundingModes[rm];
            cases.AddRange(ResultAndFlags($"1 + 2^-53 {r}", $"{D("fa1", One)}; {D("fa2", Half53)}", $"fadd.d fa0, fa1, fa2, {r}", positive[rm], NX));
            cases.AddRange(ResultAndFlags($"-1 - 2^-53 {r}", $"{D("fa1", MinusOne)}; {D("fa2", Half53)}", $"fsub.d fa0, fa1, fa2, {r}", negative[rm], NX));
        }

        CaseTable.Check(cases, prologue: EnableFs);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Dynamic_rounding_follows_frm(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        uint third = Bits(1f / 3f);
        CaseTable.Check(
        [
            new("frm rup, fdiv.s dyn", $"{S("fa1", Bits(1f))}; {S("fa2", Bits(3f))}; fsrmi 3; fdiv.s fa0, fa1, fa2; fmv.x.w a0, fa0", third),
            new("frm rtz, fdiv.s dyn", $"{S("fa1", Bits(1f))}; {S("fa2", Bits(3f))}; fsrmi 1; fdiv.s fa0, fa1, fa2; fmv.x.w a0, fa0", third - 1),
            new("frm rtz, static rup wins", $"{S("fa1", Bits(1f))}; {S("fa2", Bits(3f))}; fsrmi 1; fdiv.s fa0, fa1, fa2, rup; fmv.x.w a0, fa0", third),
            new("frm reads back", "fsrmi 4; frrm a0", 4),
            new("fcsr = frm << 5 | fflags", "fsrmi 2; csrwi fflags, 0x15; frcsr a0", (2 << 5) | 0x15),
            new("fsflags swaps", "csrwi fflags, 3; li t1, 8; fsflags a0, t1; csrr t2, fflags; slli a0, a0, 8; or a0, a0, t2", (3 << 8) | 8),
            new("fcsr write splits", "li t1, 0xFF; fscsr t1; frrm a1; frflags a2; slli a0, a1, 8; or a0, a0, a2; fsrmi 0", (7 << 8) | 31),
        ], prologue: EnableFs);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Exception_flags(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        var cases = new List<AsmCase>();
        cases.AddRange(ResultAndFlags("1/0", $"{D("fa1", One)}; {D("fa2", 0)}", "fdiv.d fa0, fa1, fa2", Inf, DZ));
        cases.AddRange(ResultAndFlags("0/0", $"{D("fa1", 0)}; {D("fa2", 0)}", "fdiv.d fa0, fa1, fa2", CanonicalNaN64, NV));
        cases.AddRange(ResultAndFlags("sqrt -1", D("fa1", MinusOne), "fsqrt.d fa0, fa1", CanonicalNaN64, NV));
        cases.AddRange(ResultAndFlags("sqrt 4", D("fa1", Bits(4.0)), "fsqrt.d fa0, fa1", Bits(2.0), 0));
        cases.AddRange(ResultAndFlags("sqrt 2", D("fa1", Bits(2.0)), "fsqrt.d fa0, fa1", Bits(Math.Sqrt(2.0)), NX));
        cases.AddRange(ResultAndFlags("max*2 rne", $"{D("fa1", Max)}; {D("fa2", Bits(2.0))}", "fmul.d fa0, fa1, fa2", Inf, OF | NX));
        cases.AddRange(ResultAndFlags("max*2 rtz", $"{D("fa1", Max)}; {D("fa2", Bits(2.0))}", "fmul.d fa0, fa1, fa2, rtz", Max, OF | NX));
        cases.AddRange(ResultAndFlags("max*2 rdn", $"{D("fa1", Max)}; {D("fa2", Bits(2.0))}", "fmul.d fa0, fa1, fa2, rdn", Max, OF | NX));
        cases.AddRange(ResultAndFlags("exact subnormal", $"{D("fa1", 0x0010_0000_0000_0000)}; {D("fa2", Bits(0.5))}", "fmul.d fa0, fa1, fa2", 0x0008_0000_0000_0000, 0));
        cases.AddRange(ResultAndFlags("tiny*0.5 rne", $"{D("fa1", 1)}; {D("fa2", Bits(0.5))}", "fmul.d fa0, fa1, fa2", 0, UF | NX));
        cases.AddRange(ResultAndFlags("tiny*0.5 rup", $"{D("fa1", 1)}; {D("fa2", Bits(0.5))}", "fmul.d fa0, fa1, fa2, rup", 1, UF | NX));
        cases.AddRange(ResultAndFlags("inf-inf", $"{D("fa1", Inf)}; {D("fa2", Inf)}", "fsub.d fa0, fa1, fa2", CanonicalNaN64, NV));
        cases.AddRange(ResultAndFlags("qNaN payload dropped", $"{D("fa1", QuietNaN64)}; {D("fa2", One)}", "fadd.d fa0, fa1, fa2", CanonicalNaN64, 0));
        cases.AddRange(ResultAndFlags("sNaN operand", $"{D("fa1", SignalingNaN64)}; {D("fa2", One)}", "fmul.d fa0, fa1, fa2", CanonicalNaN64, NV));
        cases.Add(new("flags accrue", $"csrw fflags, zero; {D("fa1", One)}; {D("fa2", 0)}; fdiv.d fa0, fa1, fa2; {D("fa2", Half53)}; fadd.d fa0, fa1, fa2; csrr a0, fflags", DZ | NX));
        CaseTable.Check(cases, prologue: EnableFs);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Single_precision_results_are_nan_boxed_and_rounded(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        const ulong Box = 0xFFFF_FFFF_0000_0000;
        uint one = Bits(1f); // 1 + 2^-24 is halfway between 1 and the next single
        var cases = new List<AsmCase>();
        cases.AddRange(ResultAndFlags("1 + 2^-24 rne", $"{S("fa1", Bits(1f))}; {S("fa2", 0x3380_0000)}", "fadd.s fa0, fa1, fa2", Box | one, NX));
        cases.AddRange(ResultAndFlags("1 + 2^-24 rup", $"{S("fa1", Bits(1f))}; {S("fa2", 0x3380_0000)}", "fadd.s fa0, fa1, fa2, rup", Box | (one + 1), NX));
        cases.AddRange(ResultAndFlags("1/3 rtz", $"{S("fa1", Bits(1f))}; {S("fa2", Bits(3f))}", "fdiv.s fa0, fa1, fa2, rtz", Box | (Bits(1f / 3f) - 1), NX));
        cases.AddRange(ResultAndFlags("sqrt.s 2", S("fa1", Bits(2f)), "fsqrt.s fa0, fa1", Box | Bits(MathF.Sqrt(2f)), NX));
        cases.AddRange(ResultAndFlags("unboxed operand is the canonical NaN", $"{D("fa1", Bits(1f))}; {S("fa2", Bits(1f))}", "fadd.s fa0, fa1, fa2", Box | CanonicalNaN32, 0));
        cases.AddRange(ResultAndFlags("fmul.s overflow", $"{S("fa1", 0x7F7F_FFFF)}; {S("fa2", Bits(2f))}", "fmul.s fa0, fa1, fa2", Box | 0x7F80_0000, OF | NX));
        CaseTable.Check(cases, prologue: EnableFs);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Fused_multiply_add_rounds_once(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        string abc = $"{D("fa1", Bits(2.0))}; {D("fa2", Bits(3.0))}; {D("fa3", One)}";
        var cases = new List<AsmCase>();
        cases.AddRange(ResultAndFlags("fmadd", abc, "fmadd.d fa0, fa1, fa2, fa3", Bits(7.0), 0));
        cases.AddRange(ResultAndFlags("fmsub", abc, "fmsub.d fa0, fa1, fa2, fa3", Bits(5.0), 0));
        cases.AddRange(ResultAndFlags("fnmsub", abc, "fnmsub.d fa0, fa1, fa2, fa3", Bits(-5.0), 0));
        cases.AddRange(ResultAndFlags("fnmadd", abc, "fnmadd.d fa0, fa1, fa2, fa3", Bits(-7.0), 0));

        // (1 + 2^-52)(1 - 2^-52) - 1 = -2^-104 exactly; a separate multiply would round the product to 1 and give 0.
        string near = $"{D("fa1", One + 1)}; {D("fa2", 0x3FEF_FFFF_FFFF_FFFE)}; {D("fa3", MinusOne)}";
        cases.AddRange(ResultAndFlags("no double rounding", near, "fmadd.d fa0, fa1, fa2, fa3", 0xB970_0000_0000_0000, 0));
        cases.AddRange(ResultAndFlags("inf*0 + qNaN is invalid", $"{D("fa1", Inf)}; {D("fa2", 0)}; {D("fa3", QuietNaN64)}", "fmadd.d fa0, fa1, fa2, fa3", CanonicalNaN64, NV));
        cases.AddRange(ResultAndFlags("fmadd.s", $"{S("fa1", Bits(2f))}; {S("fa2", Bits(3f))}; {S("fa3", Bits(1f))}", "fmadd.s fa0, fa1, fa2, fa3", 0xFFFF_FFFF_0000_0000 | Bits(7f), 0));
        // -(3 * 0x3EAAAAAB) - 0 = -(1 + 2^-25): RDN rounds away from zero, RTZ toward it.
        string third = $"{S("fa1", Bits(3f))}; {S("fa2", Bits(1f / 3f))}; {S("fa3", 0)}";
        cases.AddRange(ResultAndFlags("fnmadd.s rdn", third, "fnmadd.s fa0, fa1, fa2, fa3, rdn", 0xFFFF_FFFF_BF80_0001, NX));
        cases.AddRange(ResultAndFlags("fnmadd.s rtz", third, "fnmadd.s fa0, fa1, fa2, fa3, rtz", 0xFFFF_FFFF_BF80_0000, NX));
        CaseTable.Check(cases, prologue: EnableFs);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Min_max_compare_classify_and_sign_injection(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        const ulong MinusZero = 0x8000_0000_0000_0000;
        string zeros = $"{D("fa1", MinusZero)}; {D("fa2", 0)}";
        var cases = new List<AsmCase>();
        cases.AddRange(ResultAndFlags("fmin -0 +0", zeros, "fmin.d fa0, fa1, fa2", MinusZero, 0));
        cases.AddRange(ResultAndFlags("fmax -0 +0", zeros, "fmax.d fa0, fa2, fa1", 0, 0));
        cases.AddRange(ResultAndFlags("fmin qNaN 1", $"{D("fa1", QuietNaN64)}; {D("fa2", One)}", "fmin.d fa0, fa1, fa2", One, 0));
        cases.AddRange(ResultAndFlags("fmax sNaN 1", $"{D("fa1", SignalingNaN64)}; {D("fa2", One)}", "fmax.d fa0, fa1, fa2", One, NV));
        cases.AddRange(ResultAndFlags("fmin NaN NaN", $"{D("fa1", QuietNaN64)}; {D("fa2", QuietNaN64)}", "fmin.d fa0, fa1, fa2", CanonicalNaN64, 0));
        cases.AddRange(IntegerAndFlags("feq qNaN quiet", $"{D("fa1", QuietNaN64)}; {D("fa2", One)}", "feq.d a0, fa1, fa2", 0, 0));
        cases.AddRange(IntegerAndFlags("feq sNaN", $"{D("fa1", SignalingNaN64)}; {D("fa2", One)}", "feq.d a0, fa1, fa2", 0, NV));
        cases.AddRange(IntegerAndFlags("flt qNaN signals", $"{D("fa1", QuietNaN64)}; {D("fa2", One)}", "flt.d a0, fa1, fa2", 0, NV));
        cases.AddRange(IntegerAndFlags("fle equal", $"{D("fa1", One)}; {D("fa2", One)}", "fle.d a0, fa1, fa2", 1, 0));
        cases.AddRange(IntegerAndFlags("feq -0 +0", zeros, "feq.d a0, fa1, fa2", 1, 0));
        cases.AddRange(IntegerAndFlags("flt -0 +0", zeros, "flt.d a0, fa1, fa2", 0, 0));
        cases.AddRange(IntegerAndFlags("flt.s", $"{S("fa1", Bits(1f))}; {S("fa2", Bits(2f))}", "flt.s a0, fa1, fa2", 1, 0));

        ulong[] classes = [0xFFF0_0000_0000_0000, MinusOne, 0x8000_0000_0000_0001, MinusZero, 0, 1, One, Inf, SignalingNaN64, QuietNaN64];
        for (int i = 0; i < classes.Length; i++)
        {
            cases.Add(new($"fclass.d class {i}", $"{D("fa1", classes[i])}; fclass.d a0, fa1", 1UL << i));
        }

        cases.Add(new("fclass.s unboxed is qNaN", $"{D("fa1", Bits(1f))}; fclass.s a0, fa1", 1 << 9));
        cases.Add(new("fclass.s -subnormal", $"{S("fa1", 0x8000_0001)}; fclass.s a0, fa1", 1 << 2));
        cases.AddRange(ResultAndFlags("fsgnj", $"{D("fa1", One)}; {D("fa2", Bits(-2.0))}", "fsgnj.d fa0, fa1, fa2", MinusOne, 0));
        cases.AddRange(ResultAndFlags("fsgnjn", $"{D("fa1", One)}; {D("fa2", Bits(-2.0))}", "fsgnjn.d fa0, fa1, fa2", One, 0));
        cases.AddRange(ResultAndFlags("fsgnjx", $"{D("fa1", MinusOne)}; {D("fa2", Bits(-2.0))}", "fsgnjx.d fa0, fa1, fa2", One, 0));
        cases.AddRange(ResultAndFlags("fneg sNaN keeps payload, no NV", D("fa1", SignalingNaN64), "fneg.d fa0, fa1", SignalingNaN64 | MinusZero, 0));
        cases.Add(new("fsgnj.s unboxed takes the canonical NaN", $"{D("fa1", Bits(1f))}; {S("fa2", Bits(-1f))}; fsgnj.s fa0, fa1, fa2; fmv.x.d a0, fa0", 0xFFFF_FFFF_FFC0_0000));
        cases.Add(new("fabs.s", $"{S("fa1", Bits(-3f))}; fabs.s fa0, fa1; fmv.x.w a0, fa0", Bits(3f)));
        CaseTable.Check(cases, prologue: EnableFs);
    }
}
