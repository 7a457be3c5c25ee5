using Backup.Hypervisor.Cpu;
using Backup.Hypervisor.Tests.Cpu;
using Backup.Hypervisor.Translation;

namespace Backup.Hypervisor.Tests.Translation;

/// <summary>
/// Compiled blocks that continue straight into the next compiled block (chaining): a write to a chained block's
/// code takes effect at once, a chain of any length stops exactly at the budget (so the interrupt check between
/// quanta stays bounded), and both modes end in the same state.
/// </summary>
public sealed class ChainingTests
{
    // addi a0, a0, 100 (full 32-bit encoding).
    private const uint AddiA0By100 = 0x06450513;

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void A_store_into_a_chained_block_takes_effect_at_its_next_run(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine($"""
                li s0, 0
                li a0, 0
                la t2, patch
                li t1, {AddiA0By100}
            outer:
                addi s0, s0, 1
                li t3, 50
                bne s0, t3, 1f
                sw t1, 0(t2)       # rewrites the next block, which the chain has entered 49 times
            1:
                li t4, 0
            inner:
                addi t4, t4, 1
                li t5, 3
                blt t4, t5, inner  # a loop's latch ends the block: the next one starts at patch
                .option push
                .option norvc
            patch:
                addi a0, a0, 1
                .option pop
                li t3, 100
                blt s0, t3, outer  # back to the first block, which chains into this one again
                HALT
            """);
        m.Run();
        Assert.Equal(100UL, m.X("s0"));
        Assert.Equal((49UL * 1) + (51UL * 100), m.X("a0"));
        var stats = m.Hart.TranslationStatistics;
        if (mode == ExecutionMode.Translated)
        {
            Assert.True(stats.ChainedBlockRuns > 100, $"only {stats.ChainedBlockRuns} chained block runs");
            Assert.True(stats.PagesInvalidated > 0, "the store did not invalidate the page");
        }
        else
        {
            Assert.Equal(0, stats.ChainedBlockRuns);
        }
    }

    [Fact]
    public void A_long_chain_stops_exactly_at_the_budget_and_a_pending_interrupt_is_taken_there()
    {
        const string Program = """
                la t0, m_trap_log
                csrw mtvec, t0
                li t0, 8
                csrw mie, t0                # MSIE
                csrsi mstatus, MSTATUS_MIE
                li s0, 0
                li s1, 0
                li s2, 400000
            ping:
                addi s0, s0, 1
                li t4, 0
            1:  addi t4, t4, 1
                beqz t4, 1b             # never taken; a loop's latch ends the block
            pong:
                addi s1, s1, 1
                blt s1, s2, ping        # back to the first block: the two chain into each other
                HALT                    # after 2.4 M instructions: more than one budget
            """;

        // One call runs a million instructions: a third of a million chained block entries, which must neither grow
        // the stack nor run past the budget.
        const int Budget = 1_000_000;
        var states = new List<(ulong S0, ulong S1, ulong Pc, ulong Instret, ulong Epc)>();
        foreach (var mode in new[] { ExecutionMode.Interpreter, ExecutionMode.Translated })
        {
            using var executionMode = RiscvTestMachine.UseMode(mode);
            using var m = new RiscvTestMachine(Program);
            while (m.X("s0") < 10)
            {
                m.Hart.Run(10); // the set-up (CSR writes end a quantum early) and the first few rounds
            }

            ulong before = m.Hart.Instret;
            Assert.Equal(Budget, m.Hart.Run(Budget));
            Assert.Equal(before + Budget, m.Hart.Instret);
            ulong pc = m.Hart.Pc;

            m.Hart.SetInterruptPending(InterruptBits.MSIP, level: true);
            m.Hart.Run(50);
            var trap = Assert.Single(m.MTraps);
            Assert.Equal(TrapCause.InterruptFlag | TrapCause.MachineSoftwareInterrupt, trap.Cause);
            Assert.Equal(pc, trap.Epc); // taken at the quantum boundary, before any further instruction
            states.Add((m.X("s0"), m.X("s1"), pc, m.Hart.Instret, trap.Epc));
            if (mode == ExecutionMode.Translated)
            {
                var stats = m.Hart.TranslationStatistics;
                Assert.True(stats.ChainedBlockRuns > 300_000, $"only {stats.ChainedBlockRuns} chained block runs");
            }
        }

        Assert.Equal(states[0], states[1]);
        Assert.True(states[0].S0 + states[0].S1 > (Budget / 3) - 100, $"s0 {states[0].S0}, s1 {states[0].S1}");
    }
}
