using Backup.Hypervisor.Tests.Cpu;
using Backup.Hypervisor.Translation;

namespace Backup.Hypervisor.Tests.Translation;

/// <summary>
/// Code that rewrites itself: the new instruction must run from the next fetch on, in both modes, whether the store
/// is in the very block it patches, in another block, or followed by FENCE.I.
/// </summary>
public sealed class SelfModifyingCodeTests
{
    // addi a0, a0, 100 / li a0, 2 (addi a0, x0, 2), full 32-bit encodings.
    private const uint AddiA0By100 = 0x06450513;
    private const uint LiA0Two = 0x00200513;

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void A_store_into_the_running_block_takes_effect_at_the_next_instruction(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine($"""
                li s0, 0
                li a0, 0
                la t2, patch
                li t1, {AddiA0By100}
            loop:
                li t3, 50
                bne s0, t3, 1f
                sw t1, 0(t2)       # same straight-line block as the instruction it replaces
            1:
                .option push
                .option norvc
            patch:
                addi a0, a0, 1
                .option pop
                addi s0, s0, 1
                li t3, 100
                blt s0, t3, loop
                HALT
            """);
        m.Run();
        Assert.Equal((50UL * 1) + (50UL * 100), m.X("a0"));
        AssertInvalidated(m, mode);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void A_hot_function_rewritten_between_calls_runs_its_new_code(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine($"""
                li s0, 0
                li s1, 0
                la t2, function
                li t1, {LiA0Two}
            loop:
                call function
                add s1, s1, a0
                addi s0, s0, 1
                li t3, 60
                bne s0, t3, 1f
                sw t1, 0(t2)       # another block, another page: no FENCE.I
            1:
                li t3, 90
                bne s0, t3, 2f
                li t4, {0x00300513}
                sw t4, 0(t2)
                fence.i
            2:
                li t3, 120
                blt s0, t3, loop
                HALT

                .align 12
            function:
                .option push
                .option norvc
                li a0, 1
                .option pop
                ret
            """);
        m.Run();
        Assert.Equal((60UL * 1) + (30UL * 2) + (30UL * 3), m.X("s1"));
        AssertInvalidated(m, mode);
    }

    private static void AssertInvalidated(RiscvTestMachine m, ExecutionMode mode)
    {
        var stats = m.Hart.TranslationStatistics;
        if (mode == ExecutionMode.Translated)
        {
            Assert.True(stats.BlocksCompiled > 0 && stats.PagesInvalidated > 0, $"compiled {stats.BlocksCompiled}, pages invalidated {stats.PagesInvalidated}");
        }
        else
        {
            Assert.Equal(0, stats.BlocksCompiled);
        }
    }
}
