using Backup.Hypervisor.Translation;
using Backup.Hypervisor.Cpu;

namespace Backup.Hypervisor.Tests.Cpu;

/// <summary>medeleg/mideleg (privileged spec 3.1.8): traps below M go to S when delegated, never from M.</summary>
public class DelegationTests
{
    private const ulong Int = TrapCause.InterruptFlag;

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Delegated_exceptions_go_to_s_from_u_and_s_but_never_from_m(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine("""
                la t0, m_trap_log
                csrw mtvec, t0
                la t0, s_trap_log
                csrw stvec, t0
                li t0, (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8)
                csrw medeleg, t0
            m0: .2byte 0                    # illegal in M: delegated, but M traps stay in M
                ENTER_S smode
            smode:
                csrsi sstatus, MSTATUS_SIE
            s0: .2byte 0                    # illegal in S -> S, SPP = S
            s1: ebreak                      # -> S
                li t0, UNMAPPED
            s2: ld t0, 0(t0)                # load access fault -> S
            s3: ecall                       # ecall from S: not delegated -> M
                li t0, MSTATUS_SPP
                csrc sstatus, t0
                la t0, umode
                csrw sepc, t0
                sret
            umode:
            u0: ecall                       # -> S
            u1: .2byte 0                    # -> S, SPP = U
                li t0, 1
                csrw mstatus, t0            # illegal in U -> S
                la a0, m0
                la a1, s0
                la a2, s3
                la a3, u0
                HALT
            """);
        m.Run();
        var mt = m.MTraps;
        Assert.True(mt.Select(t => t.Cause).SequenceEqual([TrapCause.IllegalInstruction, TrapCause.EnvironmentCallFromS]), m.Describe());
        Assert.Equal([m.X("a0"), m.X("a2")], mt.Select(t => t.Epc));
        Assert.Equal(3UL, (mt[0].Status >> 11) & 3);
        Assert.Equal(1UL, (mt[1].Status >> 11) & 3);

        var st = m.STraps;
        Assert.Equal(
            [TrapCause.IllegalInstruction, TrapCause.Breakpoint, TrapCause.LoadAccessFault, TrapCause.EnvironmentCallFromU, TrapCause.IllegalInstruction, TrapCause.IllegalInstruction],
            st.Select(t => t.Cause));
        Assert.Equal(m.X("a1"), st[0].Epc);
        Assert.Equal(RiscvTestMachine.Unmapped, st[2].Tval);
        Assert.Equal(m.X("a3"), st[3].Epc);
        Assert.Equal(0x30029073UL, st[5].Tval);
        Assert.Equal([1UL, 1UL, 1UL, 0UL, 0UL, 0UL], st.Select(t => (t.Status >> 8) & 1));        // SPP
        Assert.All(st.Take(3), t => Assert.Equal(1UL << 5, t.Status & ((1 << 5) | (1 << 1))));  // SPIE = old SIE (1), SIE = 0
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Delegated_trap_leaves_m_state_alone(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine("""
                la t0, s_trap_log
                csrw stvec, t0
                li t0, 1 << 8
                csrw medeleg, t0
                ENTER_U umode
            umode:
                ecall
                HALT
            """);
        m.Run();
        var t = Assert.Single(m.STraps);
        Assert.Equal(TrapCause.EnvironmentCallFromU, t.Cause);
        Assert.Empty(m.MTraps);
        Assert.Equal(PrivilegeMode.User, m.Hart.Mode);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Delegated_interrupts_go_to_s_with_vectored_stvec(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine("""
                la t0, svt
                ori t0, t0, 1
                csrw stvec, t0
                li t0, 0x222
                csrw mideleg, t0
                csrw mie, t0
                ENTER_U umode
            umode:
                nop
                nop
                HALT

                .option push
                .option norvc
                .align 6
            svt:
                j s_trap_log        # 0
                j bad               # 1
                j bad
                j bad
                j bad
                j s_trap_log        # 5 STI
                j bad
                j bad
                j bad
                j bad               # 9 SEI
                .option pop
            bad:
                HALT
            """);
        m.Hart.SetInterruptPending(InterruptBits.STIP, true);
        m.Run();
        var t = Assert.Single(m.STraps);
        Assert.Equal(Int | TrapCause.SupervisorTimerInterrupt, t.Cause);
        Assert.Empty(m.MTraps);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Undelegated_interrupt_from_s_goes_to_m_while_delegated_one_goes_to_s(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine("""
                la t0, m_trap_log
                csrw mtvec, t0
                la t0, s_trap_log
                csrw stvec, t0
                li t0, 1 << 9
                csrw mideleg, t0            # SEI delegated, SSI not
                li t0, (1 << 9) | (1 << 1)
                csrw mie, t0
                csrsi mip, 2
                ENTER_S smode
            smode:
                csrsi sstatus, MSTATUS_SIE
                nop
                nop
                HALT
            """);
        m.Hart.SetInterruptPending(InterruptBits.SEIP, true);
        m.Run();
        Assert.Equal([Int | TrapCause.SupervisorSoftwareInterrupt], m.MTraps.Select(t => t.Cause));
        Assert.Equal([Int | TrapCause.SupervisorExternalInterrupt], m.STraps.Select(t => t.Cause));
    }
}
