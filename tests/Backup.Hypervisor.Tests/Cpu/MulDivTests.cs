using Backup.Hypervisor.Translation;
namespace Backup.Hypervisor.Tests.Cpu;

/// <summary>M extension (unprivileged spec chapter "M"), including division by zero and overflow (table 13.1).</summary>
public class MulDivTests
{
    private const long Min = long.MinValue;
    private const long Max = long.MaxValue;

    private static readonly long[] Operands = [0, 1, -1, 2, -2, 3, 7, -7, Min, Max, 0x1234_5678_9ABC_DEF0, unchecked((long)0xFEDC_BA98_7654_3210), 0x7FFF_FFFF, unchecked((long)0xFFFF_FFFF_8000_0000)];

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Multiply_high_forms_match_128_bit_products(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        var cases = new List<AsmCase>();
        foreach (long a in Operands)
        {
            foreach (long b in Operands)
            {
                Int128 signed = (Int128)a * b;
                UInt128 unsigned = (UInt128)(ulong)a * (ulong)b;
                Int128 mixed = (Int128)a * (Int128)(ulong)b;
                string load = $"li a1, {a}; li a2, {b}";
                cases.Add(new($"mul {a} {b}", load + "; mul a0, a1, a2", (ulong)(long)signed));
                cases.Add(new($"mulh {a} {b}", load + "; mulh a0, a1, a2", (ulong)(long)(signed >> 64)));
                cases.Add(new($"mulhu {a} {b}", load + "; mulhu a0, a1, a2", (ulong)(unsigned >> 64)));
                cases.Add(new($"mulhsu {a} {b}", load + "; mulhsu a0, a1, a2", (ulong)(long)(mixed >> 64)));
                cases.Add(new($"mulw {a} {b}", load + "; mulw a0, a1, a2", (ulong)(long)(int)((int)a * (int)b)));
            }
        }

        CaseTable.Check(cases);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Division_edge_cases(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        const ulong AllOnes = ulong.MaxValue;
        CaseTable.Check(
        [
            new("div truncates toward zero", "li a1, 7; li a2, -2; div a0, a1, a2", unchecked((ulong)-3)),
            new("div negative dividend", "li a1, -7; li a2, 2; div a0, a1, a2", unchecked((ulong)-3)),
            new("div both negative", "li a1, -7; li a2, -2; div a0, a1, a2", 3),
            new("rem sign follows dividend", "li a1, -7; li a2, 2; rem a0, a1, a2", AllOnes),
            new("rem positive dividend", "li a1, 7; li a2, -2; rem a0, a1, a2", 1),
            new("divu", "li a1, -1; li a2, 2; divu a0, a1, a2", 0x7FFF_FFFF_FFFF_FFFF),
            new("remu", "li a1, -1; li a2, 10; remu a0, a1, a2", 5),
            new("div by zero", "li a1, 42; div a0, a1, x0", AllOnes),
            new("div by zero negative", "li a1, -42; div a0, a1, x0", AllOnes),
            new("divu by zero", "li a1, 42; divu a0, a1, x0", AllOnes),
            new("rem by zero", "li a1, -42; rem a0, a1, x0", unchecked((ulong)-42)),
            new("remu by zero", "li a1, 42; remu a0, a1, x0", 42),
            new("div overflow", $"li a1, {Min}; li a2, -1; div a0, a1, a2", unchecked((ulong)Min)),
            new("rem overflow", $"li a1, {Min}; li a2, -1; rem a0, a1, a2", 0),
            new("divu min by -1", $"li a1, {Min}; li a2, -1; divu a0, a1, a2", 0),
            new("remu min by -1", $"li a1, {Min}; li a2, -1; remu a0, a1, a2", unchecked((ulong)Min)),
            new("div max by min", $"li a1, {Max}; li a2, {Min}; div a0, a1, a2", 0),
            new("rem max by min", $"li a1, {Max}; li a2, {Min}; rem a0, a1, a2", (ulong)Max),
            new("divw", "li a1, -7; li a2, 2; divw a0, a1, a2", unchecked((ulong)-3)),
            new("divw ignores upper halves", "li a1, 0xFFFFFFFF00000010; li a2, 0x500000004; divw a0, a1, a2", 4),
            new("divw by zero", "li a1, 5; li a2, 0x100000000; divw a0, a1, a2", AllOnes),
            new("divw overflow", "li a1, 0x80000000; li a2, -1; divw a0, a1, a2", 0xFFFF_FFFF_8000_0000),
            new("remw overflow", "li a1, 0x80000000; li a2, -1; remw a0, a1, a2", 0),
            new("remw", "li a1, -7; li a2, 2; remw a0, a1, a2", AllOnes),
            new("remw by zero sign-extends dividend", "li a1, 0x180000000; remw a0, a1, x0", 0xFFFF_FFFF_8000_0000),
            new("divuw", "li a1, 0x80000000; li a2, 2; divuw a0, a1, a2", 0x4000_0000),
            new("divuw result sign-extended", "li a1, 0xFFFFFFFF; li a2, 1; divuw a0, a1, a2", AllOnes),
            new("divuw by zero", "li a1, 5; divuw a0, a1, x0", AllOnes),
            new("remuw", "li a1, 0xFFFFFFFF; li a2, 10; remuw a0, a1, a2", 5),
            new("remuw by zero", "li a1, 0x80000000; remuw a0, a1, x0", 0xFFFF_FFFF_8000_0000),
            new("mulw overflow", "li a1, 0x7fffffff; li a2, 2; mulw a0, a1, a2", unchecked((ulong)-2)),
            new("mulw ignores upper", "li a1, 0x100000003; li a2, 0x200000002; mulw a0, a1, a2", 6),
            new("rd == rs1 == rs2", "li a0, -3; mul a0, a0, a0", 9),
        ]);
    }
}
