using Backup.Hypervisor.Translation;
using static Backup.Hypervisor.Tests.Cpu.FloatAsm;

namespace Backup.Hypervisor.Tests.Cpu;

/// <summary>
/// FCVT between integers and floats and between the two precisions (unprivileged spec, table "Domains of
/// float-to-integer conversions"): rounding in every mode, saturation with NV (not NX) outside the range, NaN to
/// the largest value, 32-bit results sign-extended.
/// </summary>
public class FloatConversionTests
{
    private const ulong IntMax = 0x7FFF_FFFF, IntMinExtended = 0xFFFF_FFFF_8000_0000, Box = 0xFFFF_FFFF_0000_0000;

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Float_to_integer_rounds_in_every_mode(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        ulong[] plus = [2, 2, 2, 3, 3];
        ulong[] minus = [unchecked((ulong)-2), unchecked((ulong)-2), unchecked((ulong)-3), unchecked((ulong)-2), unchecked((ulong)-3)];
        var cases = new List<AsmCase>();
        for (int rm = 0; rm < 5; rm++)
        {
            string r = RoundingModes[rm];
            cases.AddRange(IntegerAndFlags($"fcvt.w.d 2.5 {r}", D("fa1", Bits(2.5)), $"fcvt.w.d a0, fa1, {r}", plus[rm], NX));
            cases.AddRange(IntegerAndFlags($"fcvt.l.s -2.5 {r}", S("fa1", Bits(-2.5f)), $"fcvt.l.s a0, fa1, {r}", minus[rm], NX));
        }

        cases.AddRange(IntegerAndFlags("fcvt.w.d exact", D("fa1", Bits(-7.0)), "fcvt.w.d a0, fa1", unchecked((ulong)-7), 0));
        CaseTable.Check(cases, prologue: EnableFs);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Float_to_integer_saturates(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        var cases = new List<AsmCase>();
        cases.AddRange(IntegerAndFlags("w 3e9", D("fa1", Bits(3e9)), "fcvt.w.d a0, fa1", IntMax, NV));
        cases.AddRange(IntegerAndFlags("w -3e9", D("fa1", Bits(-3e9)), "fcvt.w.d a0, fa1", IntMinExtended, NV));
        cases.AddRange(IntegerAndFlags("w NaN", D("fa1", CanonicalNaN64), "fcvt.w.d a0, fa1", IntMax, NV));
        cases.AddRange(IntegerAndFlags("w -inf", D("fa1", 0xFFF0_0000_0000_0000), "fcvt.w.d a0, fa1", IntMinExtended, NV));
        cases.AddRange(IntegerAndFlags("wu -1", D("fa1", Bits(-1.0)), "fcvt.wu.d a0, fa1", 0, NV));
        cases.AddRange(IntegerAndFlags("wu -0.5 rtz is in range", D("fa1", Bits(-0.5)), "fcvt.wu.d a0, fa1, rtz", 0, NX));
        cases.AddRange(IntegerAndFlags("wu 4e9 sign-extended", D("fa1", Bits(4e9)), "fcvt.wu.d a0, fa1", 0xFFFF_FFFF_EE6B_2800, 0));
        cases.AddRange(IntegerAndFlags("wu NaN", D("fa1", CanonicalNaN64), "fcvt.wu.d a0, fa1", ulong.MaxValue, NV));
        cases.AddRange(IntegerAndFlags("l 2^63", D("fa1", Bits(9.2233720368547758e18)), "fcvt.l.d a0, fa1", long.MaxValue, NV));
        cases.AddRange(IntegerAndFlags("l -2^63 exact", D("fa1", Bits(-9.2233720368547758e18)), "fcvt.l.d a0, fa1", 0x8000_0000_0000_0000, 0));
        cases.AddRange(IntegerAndFlags("lu 2^63", D("fa1", Bits(9.2233720368547758e18)), "fcvt.lu.d a0, fa1", 0x8000_0000_0000_0000, 0));
        cases.AddRange(IntegerAndFlags("lu +inf", D("fa1", 0x7FF0_0000_0000_0000), "fcvt.lu.d a0, fa1", ulong.MaxValue, NV));
        cases.AddRange(IntegerAndFlags("lu.s -inf", S("fa1", 0xFF80_0000), "fcvt.lu.s a0, fa1", 0, NV));
        cases.AddRange(IntegerAndFlags("w.s unboxed is NaN", D("fa1", Bits(1f)), "fcvt.w.s a0, fa1", IntMax, NV));
        CaseTable.Check(cases, prologue: EnableFs);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Integer_to_float_and_between_precisions(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        var cases = new List<AsmCase>();
        cases.AddRange(ResultAndFlags("d.l -1", "li a1, -1", "fcvt.d.l fa0, a1", Bits(-1.0), 0));
        cases.AddRange(ResultAndFlags("d.lu 2^64-1 rne", "li a1, -1", "fcvt.d.lu fa0, a1", 0x43F0_0000_0000_0000, NX));
        cases.AddRange(ResultAndFlags("d.lu 2^64-1 rtz", "li a1, -1", "fcvt.d.lu fa0, a1, rtz", 0x43EF_FFFF_FFFF_FFFF, NX));
        cases.AddRange(ResultAndFlags("d.w uses the low word", "li a1, 0x12345678fffffffb", "fcvt.d.w fa0, a1", Bits(-5.0), 0));
        cases.AddRange(ResultAndFlags("d.wu", "li a1, -1", "fcvt.d.wu fa0, a1", Bits(4294967295.0), 0));
        cases.AddRange(ResultAndFlags("s.w 2^24+1 rne", "li a1, 16777217", "fcvt.s.w fa0, a1", Box | Bits(16777216f), NX));
        cases.AddRange(ResultAndFlags("s.w 2^24+1 rup", "li a1, 16777217", "fcvt.s.w fa0, a1, rup", Box | Bits(16777218f), NX));
        cases.AddRange(ResultAndFlags("s.lu", "li a1, -1", "fcvt.s.lu fa0, a1", Box | 0x5F80_0000, NX));
        cases.AddRange(ResultAndFlags("s.d 1/3", D("fa1", Bits(1.0 / 3.0)), "fcvt.s.d fa0, fa1", Box | Bits(1f / 3f), NX));
        cases.AddRange(ResultAndFlags("s.d 1/3 rtz", D("fa1", Bits(1.0 / 3.0)), "fcvt.s.d fa0, fa1, rtz", Box | (Bits(1f / 3f) - 1), NX));
        cases.AddRange(ResultAndFlags("s.d max overflows", D("fa1", 0x7FEF_FFFF_FFFF_FFFF), "fcvt.s.d fa0, fa1", Box | 0x7F80_0000, OF | NX));
        cases.AddRange(ResultAndFlags("s.d sNaN", D("fa1", SignalingNaN64), "fcvt.s.d fa0, fa1", Box | CanonicalNaN32, NV));
        cases.AddRange(ResultAndFlags("d.s exact", S("fa1", Bits(0.1f)), "fcvt.d.s fa0, fa1", Bits((double)0.1f), 0));
        cases.AddRange(ResultAndFlags("d.s sNaN", S("fa1", SignalingNaN32), "fcvt.d.s fa0, fa1", CanonicalNaN64, NV));
        CaseTable.Check(cases, prologue: EnableFs);
    }
}
