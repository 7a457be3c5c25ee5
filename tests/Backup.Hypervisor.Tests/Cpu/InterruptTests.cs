using Backup.Hypervisor.Translation;
using System.Text;
using Backup.Hypervisor.Cpu;

namespace Backup.Hypervisor.Tests.Cpu;

/// <summary>Interrupts: sources, priority, global enables, vectoring, WFI (privileged spec 3.1.6.1, 3.1.7, 3.1.9, 3.3.3, Sstc).</summary>
public class InterruptTests
{
    private const ulong Int = TrapCause.InterruptFlag;

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Software_interrupt_is_taken_when_mie_is_set_and_not_before(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine("""
                la t0, m_trap_log
                csrw mtvec, t0
                li t0, 2
                csrw mie, t0
                csrsi mip, 2            # SSIP from M, not delegated: an M-level interrupt
                li s0, 1
                li s0, 2
                csrsi mstatus, MSTATUS_MIE
            p:  la s1, p
                HALT
            """);
        m.Run();
        var t = Assert.Single(m.MTraps);
        Assert.Equal(Int | TrapCause.SupervisorSoftwareInterrupt, t.Cause);
        Assert.Equal(m.X("s1"), t.Epc);
        Assert.Equal(0UL, t.Tval);
        Assert.Equal(1UL << 7, t.Status & ((1 << 7) | (1 << 3)));   // MPIE = 1, MIE = 0
        Assert.Equal(3UL, (t.Status >> 11) & 3);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Sstc_timer_interrupt_fires_when_time_reaches_stimecmp(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine("""
                la t0, m_trap_log
                csrw mtvec, t0
                li t0, 1
                slli t0, t0, 63
                csrw 0x30a, t0          # menvcfg.STCE
                li t0, 1 << 5
                csrw mie, t0
                csrr t0, time
                addi s2, t0, 300
                csrw stimecmp, s2
                csrr s0, mip            # not yet pending
                csrsi mstatus, MSTATUS_MIE
                li t2, MLOG
            1:  ld t1, 0(t2)
                beqz t1, 1b
                csrr s1, time
                csrr s3, mip            # still pending (level), though disabled in mie by the handler
                li t0, -1
                csrw stimecmp, t0
                csrr s4, mip            # cleared by moving the compare value
                HALT
            """);
        m.Run();
        var t = Assert.Single(m.MTraps);
        Assert.Equal(Int | TrapCause.SupervisorTimerInterrupt, t.Cause);
        Assert.Equal(0UL, m.X("s0") & InterruptBits.STIP);
        Assert.True(m.X("s1") >= m.X("s2"), $"time {m.X("s1")} < stimecmp {m.X("s2")}");
        Assert.Equal(InterruptBits.STIP, m.X("s3") & InterruptBits.STIP);
        Assert.Equal(0UL, m.X("s4") & InterruptBits.STIP);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Stip_is_read_only_in_mip_with_stce_and_writable_without(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine("""
                li t1, 1 << 5
                csrs mip, t1
                csrr s0, mip            # STCE = 0: M may set STIP
                csrc mip, t1
                li t0, 1
                slli t0, t0, 63
                csrw 0x30a, t0
                li t0, -1
                csrw stimecmp, t0
                csrs mip, t1
                csrr s1, mip            # STCE = 1: write ignored
                csrw stimecmp, x0
                csrr s2, mip            # time >= 0: pending
                csrc mip, t1
                csrr s3, mip            # write ignored
                HALT
            """);
        m.Run();
        Assert.Equal(InterruptBits.STIP, m.X("s0") & InterruptBits.STIP);
        Assert.Equal(0UL, m.X("s1") & InterruptBits.STIP);
        Assert.Equal(InterruptBits.STIP, m.X("s2") & InterruptBits.STIP);
        Assert.Equal(InterruptBits.STIP, m.X("s3") & InterruptBits.STIP);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void External_interrupts_from_the_platform(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine("""
                la t0, m_trap_log
                csrw mtvec, t0
                csrr s0, mip
                li t0, (1 << 9) | (1 << 11)
                csrw mie, t0
                csrsi mstatus, MSTATUS_MIE
                nop
                nop
                HALT
            """);
        m.Hart.SetInterruptPending(InterruptBits.SEIP | InterruptBits.MEIP, true);
        m.Run();
        Assert.Equal(InterruptBits.SEIP | InterruptBits.MEIP, m.X("s0") & (InterruptBits.SEIP | InterruptBits.MEIP));
        Assert.Equal([Int | TrapCause.MachineExternalInterrupt, Int | TrapCause.SupervisorExternalInterrupt], m.MTraps.Select(t => t.Cause));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Simultaneous_interrupts_are_taken_in_priority_order(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine("""
                la t0, m_trap_log
                csrw mtvec, t0
                li t0, 0xAAA
                csrw mie, t0
                csrsi mstatus, MSTATUS_MIE
                nop
                HALT
            """);
        m.Hart.SetInterruptPending(InterruptBits.SSIP | InterruptBits.MSIP | InterruptBits.STIP | InterruptBits.MTIP | InterruptBits.SEIP | InterruptBits.MEIP, true);
        m.Run();
        Assert.Equal(
            new[] { TrapCause.MachineExternalInterrupt, TrapCause.MachineSoftwareInterrupt, TrapCause.MachineTimerInterrupt, TrapCause.SupervisorExternalInterrupt, TrapCause.SupervisorSoftwareInterrupt, TrapCause.SupervisorTimerInterrupt }.Select(c => Int | c),
            m.MTraps.Select(t => t.Cause));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Vectored_mtvec_sends_interrupts_to_base_plus_4_times_cause_and_exceptions_to_base(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        var sb = new StringBuilder();
        sb.AppendLine("""
                la t0, vt
                ori t0, t0, 1
                csrw mtvec, t0
                li s0, DATA
                ecall
                li t0, 0x2A2
                csrw mie, t0
                csrsi mstatus, MSTATUS_MIE
                nop
                HALT
                .option push
                .option norvc
                .align 6
            vt:
            """);
        for (int k = 0; k < 12; k++)
        {
            sb.AppendLine($"    j h{k}");
        }

        sb.AppendLine("    .option pop");
        for (int k = 0; k < 12; k++)
        {
            sb.AppendLine($"h{k}: li a5, {k}\n    j common");
        }

        sb.AppendLine("""
            common:
                sd a5, 0(s0)
                addi s0, s0, 8
                csrr t0, mcause
                bltz t0, 1f
                csrr t0, mepc
                addi t0, t0, 4
                csrw mepc, t0
                mret
            1:  li t1, 1
                sll t1, t1, t0
                csrc mie, t1
                mret
            """);
        using var m = new RiscvTestMachine(sb.ToString());
        m.Hart.SetInterruptPending(InterruptBits.SSIP | InterruptBits.STIP | InterruptBits.SEIP, true);
        m.Run();
        ulong[] entries = [.. Enumerable.Range(0, 4).Select(i => m.Read64(RiscvTestMachine.Data + (8 * (ulong)i)))];
        Assert.Equal([0UL, 9UL, 1UL, 5UL], entries);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Machine_interrupts_are_taken_in_s_and_u_mode_regardless_of_mstatus_mie(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine("""
                la t0, m_trap_log
                csrw mtvec, t0
                csrw mideleg, x0
                li t0, 2
                csrw mie, t0
                csrci mstatus, MSTATUS_MIE
                csrsi mip, 2
                li s0, 1
                ENTER_S smode
            smode:
                li s1, 1
                HALT
            """);
        m.Run();
        var t = Assert.Single(m.MTraps);
        Assert.Equal(Int | TrapCause.SupervisorSoftwareInterrupt, t.Cause);
        Assert.Equal(1UL, (t.Status >> 11) & 3);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Supervisor_interrupts_are_never_taken_in_m_mode_and_need_sie_in_s_mode_but_not_in_u_mode(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine("""
                la t0, m_trap_log
                csrw mtvec, t0
                la t0, s_trap_log
                csrw stvec, t0
                li t0, 2
                csrw mideleg, t0
                csrw mie, t0
                csrsi mstatus, MSTATUS_MIE | MSTATUS_SIE
                csrsi mip, 2
                li t0, 200
            1:  addi t0, t0, -1         # M-mode with MIE and SIE: the delegated SSIP waits
                bnez t0, 1b
                csrci mstatus, MSTATUS_SIE
                ENTER_S smode
            smode:
                li t0, 200
            1:  addi t0, t0, -1         # S-mode with SIE = 0: waits
                bnez t0, 1b
                li s1, SLOG
                ld s1, 0(s1)
                li t0, MSTATUS_SPP
                csrc sstatus, t0
                la t0, umode
                csrw sepc, t0
                sret
            umode:
                nop                     # taken here, SIE = 0 does not matter in U-mode
                ecall
                HALT
            """);
        m.Run();
        Assert.Equal(0UL, m.X("s1"));
        var s = Assert.Single(m.STraps);
        Assert.Equal(Int | TrapCause.SupervisorSoftwareInterrupt, s.Cause);
        Assert.Equal(0UL, s.Status & (1 << 8)); // SPP = U
        Assert.Equal([TrapCause.EnvironmentCallFromU], m.MTraps.Select(t => t.Cause));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Wfi_waits_for_an_enabled_interrupt_even_with_global_enable_off(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine("""
                la t0, m_trap_log
                csrw mtvec, t0
                li t0, 1
                slli t0, t0, 63
                csrw 0x30a, t0
                li t0, 1 << 5
                csrw mie, t0
                csrr t0, time
                li t1, 100000
                add t0, t0, t1
                csrw stimecmp, t0
                wfi
                csrr s0, time
                csrr s1, mip
                csrr s2, stimecmp
                HALT
            """);
        m.Run();
        Assert.Empty(m.MTraps);
        Assert.True(m.X("s0") >= m.X("s2"));
        Assert.Equal(InterruptBits.STIP, m.X("s1") & InterruptBits.STIP);
        Assert.True(m.Hart.Instret < 10_000, $"WFI must idle, not spin: instret {m.Hart.Instret}");
    }
}
