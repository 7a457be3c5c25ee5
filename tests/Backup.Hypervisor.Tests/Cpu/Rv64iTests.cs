using Backup.Hypervisor.Translation;
namespace Backup.Hypervisor.Tests.Cpu;

/// <summary>RV64I integer computational instructions, LUI/AUIPC (unprivileged spec chapters 2 and 4).</summary>
public class Rv64iTests
{
    private const ulong Min = 0x8000_0000_0000_0000;
    private const ulong Max = 0x7FFF_FFFF_FFFF_FFFF;
    private const ulong AllOnes = ulong.MaxValue;

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Register_immediate_operations(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        CaseTable.Check(
        [
            new("addi negative", "li a1, 5; addi a0, a1, -7", unchecked((ulong)-2)),
            new("addi imm max", "li a1, 1; addi a0, a1, 2047", 2048),
            new("addi imm min", "li a1, 0; addi a0, a1, -2048", unchecked((ulong)-2048)),
            new("addi wraps", $"li a1, 0x{Max:x}; addi a0, a1, 1", Min),
            new("slti -1 < 0", "li a1, -1; slti a0, a1, 0", 1),
            new("slti 0 < -1", "li a1, 0; slti a0, a1, -1", 0),
            new("slti equal", "li a1, 7; slti a0, a1, 7", 0),
            new("slti min", $"li a1, 0x{Min:x}; slti a0, a1, -2048", 1),
            new("sltiu imm sign-extended to max", "li a1, 5; sltiu a0, a1, -1", 1),
            new("sltiu max < -1 false", "li a1, -1; sltiu a0, a1, -1", 0),
            new("sltiu seqz 0", "li a1, 0; sltiu a0, a1, 1", 1),
            new("sltiu seqz 1", "li a1, 1; sltiu a0, a1, 1", 0),
            new("xori not", "li a1, 0x0f0f; xori a0, a1, -1", ~0x0f0fUL),
            new("xori", "li a1, 0xff; xori a0, a1, 0x0f0", 0x0f),
            new("ori sign-extended imm", "li a1, 0x10000; ori a0, a1, -2048", 0xFFFF_FFFF_FFFF_F800),
            new("andi sign-extended imm", "li a1, 0x123456789abcdef7; andi a0, a1, -16", 0x1234_5678_9ABC_DEF0),
            new("andi positive imm", "li a1, -1; andi a0, a1, 0x7ff", 0x7ff),
            new("slli 0", "li a1, 0x1234; slli a0, a1, 0", 0x1234),
            new("slli 63", "li a1, 3; slli a0, a1, 63", Min),
            new("slli 32", "li a1, 0x80000001; slli a0, a1, 32", 0x8000_0001_0000_0000),
            new("srli 63", "li a1, -1; srli a0, a1, 63", 1),
            new("srli 1 no sign", $"li a1, 0x{Min:x}; srli a0, a1, 1", 0x4000_0000_0000_0000),
            new("srli 0", "li a1, -5; srli a0, a1, 0", unchecked((ulong)-5)),
            new("srai 63 negative", $"li a1, 0x{Min:x}; srai a0, a1, 63", AllOnes),
            new("srai 63 positive", $"li a1, 0x{Max:x}; srai a0, a1, 63", 0),
            new("srai 1", $"li a1, 0x{Min:x}; srai a0, a1, 1", 0xC000_0000_0000_0000),
            new("srai 33", "li a1, 0xF000000000000000; srai a0, a1, 33", 0xFFFF_FFFF_F800_0000),
            new("addiw overflow", "li a1, 0x7fffffff; addiw a0, a1, 1", 0xFFFF_FFFF_8000_0000),
            new("addiw ignores upper", "li a1, 0x100000001; addiw a0, a1, 0", 1),
            new("addiw sext -1", "li a1, 0xffffffff; addiw a0, a1, 0", AllOnes),
            new("addiw negative imm", "li a1, 0; addiw a0, a1, -1", AllOnes),
            new("slliw 31", "li a1, 1; slliw a0, a1, 31", 0xFFFF_FFFF_8000_0000),
            new("slliw drops upper", "li a1, 0xF00000003; slliw a0, a1, 1", 6),
            new("srliw 0 sign-extends", "li a1, 0x80000000; srliw a0, a1, 0", 0xFFFF_FFFF_8000_0000),
            new("srliw 31", "li a1, 0xFFFFFFFF80000000; srliw a0, a1, 31", 1),
            new("srliw uses low word", "li a1, 0x180000000; srliw a0, a1, 1", 0x4000_0000),
            new("sraiw 31", "li a1, 0x80000000; sraiw a0, a1, 31", AllOnes),
            new("sraiw 4 low word sign", "li a1, 0x80000000; sraiw a0, a1, 4", 0xFFFF_FFFF_F800_0000),
            new("sraiw positive", "li a1, 0xF7FFFFFFF; sraiw a0, a1, 4", 0x07FF_FFFF),
            new("lui negative", "lui a0, 0x80000", 0xFFFF_FFFF_8000_0000),
            new("lui positive", "lui a0, 0x7ffff", 0x7FFF_F000),
            new("lui zero low bits", "li a0, -1; lui a0, 1", 0x1000),
            new("auipc 0", "1: auipc a0, 0; la a1, 1b; sub a0, a0, a1", 0),
            new("auipc 1", "1: auipc a0, 1; la a1, 1b; sub a0, a0, a1", 0x1000),
            new("auipc negative", "1: auipc a0, 0x80000; la a1, 1b; sub a0, a0, a1", 0xFFFF_FFFF_8000_0000),
            new("x0 is hardwired", "li a1, 5; addi x0, a1, 1; add a0, x0, x0", 0),
            new("nop", "li a0, 9; nop", 9),
        ]);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Register_register_operations(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        CaseTable.Check(
        [
            new("add", "li a1, 40; li a2, 2; add a0, a1, a2", 42),
            new("add wraps", $"li a1, 0x{Max:x}; li a2, 1; add a0, a1, a2", Min),
            new("sub", "li a1, 0; li a2, 1; sub a0, a1, a2", AllOnes),
            new("sub min", $"li a1, 0x{Min:x}; li a2, 1; sub a0, a1, a2", Max),
            new("sll uses low 6 bits", "li a1, 1; li a2, 65; sll a0, a1, a2", 2),
            new("sll 63", "li a1, 1; li a2, 63; sll a0, a1, a2", Min),
            new("srl 127 -> 63", "li a1, -1; li a2, 127; srl a0, a1, a2", 1),
            new("srl 0", "li a1, -1; li a2, 64; srl a0, a1, a2", AllOnes),
            new("sra 63", $"li a1, 0x{Min:x}; li a2, 63; sra a0, a1, a2", AllOnes),
            new("sra 4", "li a1, -256; li a2, 4; sra a0, a1, a2", unchecked((ulong)-16)),
            new("slt -1 < 1", "li a1, -1; li a2, 1; slt a0, a1, a2", 1),
            new("slt 1 < -1", "li a1, 1; li a2, -1; slt a0, a1, a2", 0),
            new("slt min < max", $"li a1, 0x{Min:x}; li a2, 0x{Max:x}; slt a0, a1, a2", 1),
            new("slt equal", "li a1, -3; li a2, -3; slt a0, a1, a2", 0),
            new("sltu -1 < 1", "li a1, -1; li a2, 1; sltu a0, a1, a2", 0),
            new("sltu 1 < -1", "li a1, 1; li a2, -1; sltu a0, a1, a2", 1),
            new("sltu min < max", $"li a1, 0x{Min:x}; li a2, 0x{Max:x}; sltu a0, a1, a2", 0),
            new("sltu snez", "li a2, 7; sltu a0, x0, a2", 1),
            new("xor", "li a1, 0xff00ff00ff00ff00; li a2, 0x0ff00ff00ff00ff0; xor a0, a1, a2", 0xF0F0_F0F0_F0F0_F0F0),
            new("or", "li a1, 0xff00000000000000; li a2, 0xff; or a0, a1, a2", 0xFF00_0000_0000_00FF),
            new("and", "li a1, 0xff00ff00ff00ff00; li a2, 0x0ff00ff00ff00ff0; and a0, a1, a2", 0x0F00_0F00_0F00_0F00),
            new("addw overflow", "li a1, 0x7fffffff; li a2, 1; addw a0, a1, a2", 0xFFFF_FFFF_8000_0000),
            new("addw ignores upper", "li a1, 0x1234500000001; li a2, 0xabc00000001; addw a0, a1, a2", 2),
            new("subw", "li a1, 0; li a2, 1; subw a0, a1, a2", AllOnes),
            new("subw wrap", "li a1, 0x80000000; li a2, 1; subw a0, a1, a2", 0x7FFF_FFFF),
            new("sllw uses low 5 bits", "li a1, 1; li a2, 33; sllw a0, a1, a2", 2),
            new("sllw 31", "li a1, 1; li a2, 31; sllw a0, a1, a2", 0xFFFF_FFFF_8000_0000),
            new("srlw", "li a1, 0xFFFFFFFF80000000; li a2, 31; srlw a0, a1, a2", 1),
            new("srlw 0 sign-extends", "li a1, 0x80000000; li a2, 32; srlw a0, a1, a2", 0xFFFF_FFFF_8000_0000),
            new("sraw", "li a1, 0x80000000; li a2, 35; sraw a0, a1, a2", 0xFFFF_FFFF_F000_0000),
            new("sraw positive", "li a1, 0xFFFFFFFF7FFFFFFF; li a2, 30; sraw a0, a1, a2", 1),
        ]);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Same_register_as_source_and_destination(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        CaseTable.Check(
        [
            new("add a0,a0,a0", "li a0, 21; add a0, a0, a0", 42),
            new("sub a0,a0,a0", "li a0, 21; sub a0, a0, a0", 0),
            new("sltu a0,a0,a0", "li a0, 21; sltu a0, a0, a0", 0),
        ]);
    }
}
