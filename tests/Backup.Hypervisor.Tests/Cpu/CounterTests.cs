using Backup.Hypervisor.Translation;
using Backup.Hypervisor.Cpu;

namespace Backup.Hypervisor.Tests.Cpu;

/// <summary>Zicntr counters and their access control (privileged spec 3.1.11, 3.1.12, 4.1.5).</summary>
public class CounterTests
{
    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Instret_counts_retired_instructions(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine("""
                csrr s0, instret
                nop
                nop
                nop
                csrr s1, instret
                csrr s2, minstret
                csrr s3, cycle
                csrr s4, mcycle
                HALT
            """);
        m.Run();
        Assert.Equal(4UL, m.X("s1") - m.X("s0"));
        Assert.Equal(1UL, m.X("s2") - m.X("s1"));
        Assert.True(m.X("s3") >= m.X("s2") + 1, "cycle must advance at least as fast as instret here");
        Assert.True(m.X("s4") > m.X("s3"));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Traps_do_not_retire_the_trapping_instruction(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine("""
                la t0, 1f
                csrw mtvec, t0
                csrr s0, minstret
                ecall
                .align 2
            1:  csrr s1, minstret
                HALT
            """);
        m.Run();
        Assert.Equal(0UL, m.X("s1") - m.X("s0") - 1);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Minstret_write_takes_effect_after_the_writing_instruction(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        // Privileged spec 3.1.11: "Any CSR write takes effect after the writing instruction has otherwise
        // completed", so the writing instruction is not counted on top of the written value.
        using var m = new RiscvTestMachine("""
                li t0, 1000
                csrw minstret, t0
                csrr s0, minstret
                nop
                csrr s1, minstret
                HALT
            """);
        m.Run();
        Assert.Equal(1000UL, m.X("s0"));
        Assert.Equal(1002UL, m.X("s1"));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Writing_mcycle_does_not_change_minstret(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine("""
                li t0, 5000
                csrw minstret, t0
                csrw mcycle, x0
                csrr s0, minstret
                HALT
            """);
        m.Run();
        Assert.True(m.X("s0") >= 5000, $"minstret = {m.X("s0")} after writing mcycle = 0");
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Time_is_readable_and_advances(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine("""
                csrr s0, time
                li t0, 20000
            1:  addi t0, t0, -1
                bnez t0, 1b
                csrr s1, time
                HALT
            """);
        m.Run();
        Assert.True(m.X("s1") > m.X("s0"), $"time did not advance: {m.X("s0")} -> {m.X("s1")}");
        // Deterministic clock: 10 instructions per tick; the loop is 40000 instructions.
        Assert.InRange(m.X("s1") - m.X("s0"), 3000UL, 5000UL);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Mcounteren_and_scounteren_gate_lower_privilege_access(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        // ECALL from S enables CY and IR in mcounteren; ECALL from U enables CY in scounteren; every other trap
        // is logged and skipped by m_trap_log.
        using var m = new RiscvTestMachine("""
                la t0, mh
                csrw mtvec, t0
                csrw mcounteren, x0
                csrw scounteren, x0
                ENTER_S s1
            s1: csrr a0, cycle          # trap: mcounteren.CY = 0
                csrr a0, time           # trap: mcounteren.TM = 0
                csrr a0, instret        # trap: mcounteren.IR = 0
                csrr a0, hpmcounter3    # trap: mcounteren.HPM3 = 0
                ecall
                csrr a0, cycle          # ok
                csrr a0, instret        # ok
                csrr a0, time           # trap
                li t0, MSTATUS_SPP
                csrc sstatus, t0
                la t0, u1
                csrw sepc, t0
                sret
            u1: csrr a0, cycle          # trap: scounteren.CY = 0
                ecall
                csrr a0, cycle          # ok now
                csrr a0, instret        # trap: scounteren.IR = 0
                HALT

                .align 2
            mh: csrw mscratch, t0
                csrr t0, mcause
                addi t0, t0, -9
                beqz t0, 1f
                csrr t0, mcause
                addi t0, t0, -8
                beqz t0, 2f
                csrr t0, mscratch
                j m_trap_log
            1:  li t0, 0b101
                csrw mcounteren, t0
                j 3f
            2:  li t0, 1
                csrw scounteren, t0
            3:  csrr t0, mepc
                addi t0, t0, 4
                csrw mepc, t0
                csrr t0, mscratch
                mret
            """);
        m.Run();
        Assert.Equal(7, m.MTraps.Count);
        Assert.All(m.MTraps, t => Assert.Equal(TrapCause.IllegalInstruction, t.Cause));
        Assert.Equal([0xC0002573UL, 0xC0102573UL, 0xC0202573UL, 0xC0302573UL, 0xC0102573UL, 0xC0002573UL, 0xC0202573UL], m.MTraps.Select(t => t.Tval));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Stimecmp_access_needs_stce_and_mcounteren_tm_in_s_mode(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine("""
                la t0, m_trap_log
                csrw mtvec, t0
                csrw 0x30a, x0          # menvcfg.STCE = 0
                li t0, 2
                csrw mcounteren, t0
                ENTER_S s1
            s1: csrr a0, stimecmp       # trap: STCE = 0
                ecall                   # -> M: STCE = 1, mcounteren.TM = 0
                csrr a0, stimecmp       # trap: TM = 0
                ecall                   # -> M: TM = 1
                li a0, -1
                csrw stimecmp, a0       # ok
                csrr s0, stimecmp
                HALT

                .align 2
            mh: csrw mscratch, t0
                csrr t0, mcause
                addi t0, t0, -9
                beqz t0, 1f
                csrr t0, mscratch
                j m_trap_log
            1:  csrr t0, mepc
                addi t0, t0, 4
                csrw mepc, t0
                li t0, 1
                slli t0, t0, 63
                csrr t1, 0x30a
                bnez t1, 2f
                csrw 0x30a, t0
                csrw mcounteren, x0
                j 3f
            2:  li t0, 2
                csrw mcounteren, t0
            3:  csrr t0, mscratch
                mret
            """.Replace("la t0, m_trap_log", "la t0, mh", StringComparison.Ordinal));
        m.Run();
        Assert.Equal([TrapCause.IllegalInstruction, TrapCause.IllegalInstruction], m.MTraps.Select(t => t.Cause));
        Assert.Equal(ulong.MaxValue, m.X("s0"));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Host_firmware_lets_user_mode_read_time(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        // Linux sets scounteren only in its SBI PMU driver, which the host SBI does not serve: glibc's vDSO
        // clock_gettime (rdtime in U-mode) must work anyway. The host firmware starts it at CY|TM|IR, as OpenSBI does.
        using var m = new RiscvTestMachine("""
            _start:
                csrr s0, scounteren
                la t0, 1f
                csrw sepc, t0
                li t0, 0x100
                csrc sstatus, t0        # SPP = U
                sret
            1:  rdtime s1
                rdcycle s3
                rdinstret s4
                li s2, 1
                HALT
            """, firmware: new NoFirmwareCalls(), withPrelude: false);
        m.Run();
        Assert.Equal(7UL, m.X("s0"));
        Assert.Equal(1UL, m.X("s2"));
    }
}
