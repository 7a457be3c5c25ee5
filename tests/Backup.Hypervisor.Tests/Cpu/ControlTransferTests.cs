using Backup.Hypervisor.Translation;
namespace Backup.Hypervisor.Tests.Cpu;

/// <summary>Conditional branches, JAL and JALR (unprivileged spec 2.5).</summary>
public class ControlTransferTests
{
    public static TheoryData<string, long, long, bool> Branches => new()
    {
        { "beq", 5, 5, true }, { "beq", 5, 6, false }, { "beq", -1, -1, true },
        { "bne", 5, 6, true }, { "bne", 5, 5, false },
        { "blt", -1, 1, true }, { "blt", 1, -1, false }, { "blt", 3, 3, false }, { "blt", long.MinValue, long.MaxValue, true },
        { "bge", 1, -1, true }, { "bge", 3, 3, true }, { "bge", -1, 1, false }, { "bge", long.MaxValue, long.MinValue, true },
        { "bltu", 1, -1, true }, { "bltu", -1, 1, false }, { "bltu", 3, 3, false }, { "bltu", 0, 1, true },
        { "bgeu", -1, 1, true }, { "bgeu", 1, -1, false }, { "bgeu", 3, 3, true }, { "bgeu", long.MinValue, long.MaxValue, true },
    };

    [Theory]
    [MemberData(nameof(ExecutionModes.Cross), typeof(ControlTransferTests), nameof(Branches), MemberType = typeof(ExecutionModes))]
    public void Branch_taken_or_not(string op, long a, long b, bool taken, ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        CaseTable.Check(
        [
            new($"{op} {a},{b} forward", $"li a1, {a}; li a2, {b}; li a0, 1; {op} a1, a2, 1f; li a0, 2; 1: nop", taken ? 1UL : 2UL),
            new($"{op} {a},{b} backward", $"li a1, {a}; li a2, {b}; li a0, 0; j 2f; 1: li a0, 1; j 3f; 2: {op} a1, a2, 1b; li a0, 2; 3: nop", taken ? 1UL : 2UL),
        ]);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Backward_branch_loop_and_far_branches(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        CaseTable.Check(
        [
            new("countdown loop", "li a0, 0; li a1, 10; 1: addi a0, a0, 1; addi a1, a1, -1; bnez a1, 1b", 10),
            new("branch over 4000 bytes", "li a0, 1; beq x0, x0, 1f; .skip 4000, 0; 1: addi a0, a0, 1", 2),
            new("branch to itself not taken", "li a0, 3; 1: bne x0, x0, 1b", 3),
        ]);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Jal_and_jalr_link_and_target(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        CaseTable.Check(
        [
            new("jal links pc+4", "jal a0, 1f; 2: li a0, 99; 1: la a1, 2b; sub a0, a0, a1", 0),
            new("jal x0 does not link", "li a0, 5; jal x0, 1f; li a0, 6; 1: nop", 5),
            new("jal backward", "li a0, 0; j 2f; 1: li a0, 7; j 3f; 2: jal x0, 1b; 3: nop", 7),
            new("jal far", "li a0, 1; jal x0, 1f; .skip 100000, 0; 1: addi a0, a0, 1", 2),
            new("jalr clears bit 0", "la a1, 1f; addi a1, a1, 1; li a0, 0; jalr a2, 0(a1); li a0, 77; 1: addi a0, a0, 5", 5),
            new("jalr link value", "la a1, 1f; jalr a0, 0(a1); 2: nop; 1: la a1, 2b; sub a0, a0, a1", 0),
            new("jalr rd == rs1 uses old rs1", "la a0, 1f; jalr a0, 0(a0); 2: li a0, 99; 1: la a1, 2b; sub a0, a0, a1", 0),
            new("jalr negative offset", "la a1, 1f + 12; li a0, 0; jalr x0, -12(a1); li a0, 9; 1: addi a0, a0, 3", 3),
            new("jalr odd sum of base and offset", "la a1, 1f; addi a1, a1, -3; li a0, 0; jalr x0, 4(a1); li a0, 8; 1: addi a0, a0, 4", 4),
            new("call/ret", "li a0, 1; call 1f; addi a0, a0, 10; j 2f; 1: addi a0, a0, 100; ret; 2: nop", 111),
        ]);
    }
}
