using Backup.Hypervisor.Translation;
using Backup.Hypervisor.Cpu;

namespace Backup.Hypervisor.Tests.Cpu;

/// <summary>A extension: LR/SC and AMOs (unprivileged spec chapter "A").</summary>
public class AtomicTests
{
    private const ulong Addr = RiscvTestMachine.Data + 0x100;

    public static TheoryData<string, ulong, ulong, ulong> AmoDoubleword => new()
    {
        { "amoswap.d", 0x1111_2222_3333_4444, 0x8000_0000_0000_0001, 0x8000_0000_0000_0001 },
        { "amoadd.d", 0xFFFF_FFFF_FFFF_FFFF, 2, 1 },
        { "amoxor.d", 0xFF00_FF00_FF00_FF00, 0x0FF0_0FF0_0FF0_0FF0, 0xF0F0_F0F0_F0F0_F0F0 },
        { "amoand.d", 0xFF00_FF00_FF00_FF00, 0x0FF0_0FF0_0FF0_0FF0, 0x0F00_0F00_0F00_0F00 },
        { "amoor.d", 0xFF00_0000_0000_0000, 0xFF, 0xFF00_0000_0000_00FF },
        { "amomin.d", 0xFFFF_FFFF_FFFF_FFFE, 5, 0xFFFF_FFFF_FFFF_FFFE },
        { "amomin.d", 5, 0x8000_0000_0000_0000, 0x8000_0000_0000_0000 },
        { "amomax.d", 0xFFFF_FFFF_FFFF_FFFE, 5, 5 },
        { "amomax.d", 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0x7FFF_FFFF_FFFF_FFFF },
        { "amominu.d", 0xFFFF_FFFF_FFFF_FFFE, 5, 5 },
        { "amomaxu.d", 0xFFFF_FFFF_FFFF_FFFE, 5, 0xFFFF_FFFF_FFFF_FFFE },
        { "amomaxu.d", 1, 0x8000_0000_0000_0000, 0x8000_0000_0000_0000 },
    };

    // Word AMOs: rs2's upper half is garbage and must be ignored; the old value is sign-extended into rd.
    public static TheoryData<string, uint, ulong, uint> AmoWord => new()
    {
        { "amoswap.w", 0x8765_4321, 0xDEAD_BEEF_1234_5678, 0x1234_5678 },
        { "amoadd.w", 0xFFFF_FFFF, 0xDEAD_BEEF_0000_0002, 1 },
        { "amoadd.w", 0x7FFF_FFFF, 1, 0x8000_0000 },
        { "amoxor.w", 0xFF00_FF00, 0x1234_5678_0FF0_0FF0, 0xF0F0_F0F0 },
        { "amoand.w", 0xFF00_FF00, 0x0FF0_0FF0, 0x0F00_0F00 },
        { "amoor.w", 0x8000_0000, 0x1, 0x8000_0001 },
        { "amomin.w", 0x8000_0000, 0x7FFF_FFFF, 0x8000_0000 },
        { "amomin.w", 5, 0x0000_0000_FFFF_FFFF, 0xFFFF_FFFF },
        { "amomax.w", 0x8000_0000, 0x7FFF_FFFF, 0x7FFF_FFFF },
        { "amomax.w", 0xFFFF_FFFE, 0xFFFF_FFFF_0000_0000, 0 },
        { "amominu.w", 0x8000_0000, 0x7FFF_FFFF, 0x7FFF_FFFF },
        { "amominu.w", 3, 0x1_0000_0001, 1 },
        { "amomaxu.w", 0x8000_0000, 0x7FFF_FFFF, 0x8000_0000 },
        { "amomaxu.w", 3, 0xFFFF_FFFF_0000_0002, 3 },
    };

    [Theory]
    [MemberData(nameof(ExecutionModes.Cross), typeof(AtomicTests), nameof(AmoDoubleword), MemberType = typeof(ExecutionModes))]
    public void Amo_doubleword(string op, ulong memory, ulong operand, ulong result, ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine($"""
                li a1, {Addr}
                li a2, {operand}
                {op} a0, a2, (a1)
                {op}.aqrl s1, x0, (a1)
                HALT
            """);
        m.Write64(Addr, memory);
        m.Run();
        Assert.Equal(memory, m.X("a0"));
        Assert.Equal(result, m.X("s1"));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Cross), typeof(AtomicTests), nameof(AmoWord), MemberType = typeof(ExecutionModes))]
    public void Amo_word_sign_extends_and_touches_only_its_word(string op, uint memory, ulong operand, uint result, ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine($"""
                li a1, {Addr + 4}
                li a2, {operand}
                {op} a0, a2, (a1)
                lw s1, 0(a1)
                HALT
            """);
        m.Write64(Addr, 0xA5A5_A5A5_0000_0000UL | 0x5A5A_5A5A);
        m.Write64(Addr + 8, 0xC3C3_C3C3_C3C3_C3C3UL);
        m.Ram.Write(Addr + 4, BitConverter.GetBytes(memory));
        m.Run();
        Assert.Equal((ulong)(long)(int)memory, m.X("a0"));
        Assert.Equal((ulong)(long)(int)result, m.X("s1"));
        Assert.Equal(0x5A5A_5A5AU, m.Read32(Addr));
        Assert.Equal(0xC3C3_C3C3_C3C3_C3C3UL, m.Read64(Addr + 8));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Amo_with_rd_equal_rs2_returns_old_value(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine($"""
                li a1, {Addr}
                li a0, 5
                amoadd.d a0, a0, (a1)
                HALT
            """);
        m.Write64(Addr, 10);
        m.Run();
        Assert.Equal(10UL, m.X("a0"));
        Assert.Equal(15UL, m.Read64(Addr));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Lr_sc_success_and_failure_rules(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine($"""
                li a1, {Addr}
                li a2, 0x1111
                # 1. LR/SC pair succeeds (rd = 0) and stores.
                lr.d s0, (a1)
                sc.d s1, a2, (a1)
                # 2. A second SC without a new LR fails (rd != 0) and does not store.
                li a2, 0x2222
                sc.d s2, a2, (a1)
                # 3. SC to an address other than the reserved one fails.
                lr.d t0, (a1)
                addi a4, a1, 8
                sc.d s3, a2, (a4)
                # 4. LR.W sign-extends; SC.W succeeds and writes only 32 bits.
                li a3, {Addr + 16}
                lr.w s4, (a3)
                li a2, 0x12345678
                sc.w s5, a2, (a3)
                # 5. An AMO to the reserved address between LR and SC: this implementation drops the reservation.
                lr.d t0, (a1)
                amoadd.d x0, x0, (a1)
                sc.d s6, a2, (a1)
                # 6. An SC with no reservation at all after reset of state by a failed SC.
                sc.w s7, a2, (a3)
                # 7. Retry loop (typical compare-and-swap) converges.
            1:  lr.d t0, (a1)
                addi t0, t0, 1
                sc.d t1, t0, (a1)
                bnez t1, 1b
                ld s8, 0(a1)
                HALT
            """);
        m.Write64(Addr, 0x7777);
        m.Write64(Addr + 8, 0x8888);
        m.Write64(Addr + 16, 0xFFFF_FFFF_8000_0000UL);
        m.Run();
        Assert.Equal(0x7777UL, m.X("s0"));
        Assert.Equal(0UL, m.X("s1"));
        Assert.NotEqual(0UL, m.X("s2"));
        Assert.NotEqual(0UL, m.X("s3"));
        Assert.Equal(0x8888UL, m.Read64(Addr + 8));
        Assert.Equal(0xFFFF_FFFF_8000_0000UL, m.X("s4"));
        Assert.Equal(0UL, m.X("s5"));
        Assert.Equal(0xFFFF_FFFF_1234_5678UL, m.Read64(Addr + 16));
        Assert.NotEqual(0UL, m.X("s6"));
        Assert.NotEqual(0UL, m.X("s7"));
        Assert.Equal(0x1112UL, m.X("s8"));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Host_cleared_reservation_makes_sc_fail(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine($"""
                li a1, {Addr}
                lr.d t0, (a1)
                li t1, 1
                li t2, DATA
                sd t1, 0(t2)
            1:  ld t1, 8(t2)
                beqz t1, 1b
                li a2, 5
                sc.d s0, a2, (a1)
                HALT
            """);
        m.RunUntil(() => m.Read64(RiscvTestMachine.Data) == 1);
        m.Hart.ClearReservation();
        m.Write64(RiscvTestMachine.Data + 8, 1);
        m.Run();
        Assert.NotEqual(0UL, m.X("s0"));
        Assert.Equal(0UL, m.Read64(Addr));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Misaligned_atomics_raise_address_misaligned(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine($"""
                la t0, m_trap_log
                csrw mtvec, t0
                li a1, {Addr + 4}
                li a2, {Addr + 2}
                amoadd.d a0, x0, (a1)
                amoswap.w a0, x0, (a2)
                lr.d a0, (a1)
                lr.w a0, (a2)
                sc.d a0, x0, (a1)
                sc.w a0, x0, (a2)
                HALT
            """);
        m.Run();
        var traps = m.MTraps;
        ulong[] expectedCauses = [TrapCause.StoreAddressMisaligned, TrapCause.StoreAddressMisaligned, TrapCause.LoadAddressMisaligned, TrapCause.LoadAddressMisaligned, TrapCause.StoreAddressMisaligned, TrapCause.StoreAddressMisaligned];
        Assert.Equal(expectedCauses, traps.Select(t => t.Cause));
        Assert.Equal([Addr + 4, Addr + 2, Addr + 4, Addr + 2, Addr + 4, Addr + 2], traps.Select(t => t.Tval));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Atomics_to_unmapped_physical_addresses_raise_access_faults(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine("""
                la t0, m_trap_log
                csrw mtvec, t0
                li a1, UNMAPPED
                amoadd.d a0, x0, (a1)
                lr.d a0, (a1)
                sc.d a0, x0, (a1)
                HALT
            """);
        m.Run();
        var traps = m.MTraps;
        Assert.Equal(TrapCause.StoreAccessFault, traps[0].Cause);
        Assert.Equal(TrapCause.LoadAccessFault, traps[1].Cause);
        Assert.Equal(RiscvTestMachine.Unmapped, traps[0].Tval);
        Assert.Equal(RiscvTestMachine.Unmapped, traps[1].Tval);

        // An SC without reservation may fail without accessing memory, or raise a store access fault: both are legal.
        Assert.True(traps.Count == 2 || traps[2].Cause == TrapCause.StoreAccessFault, m.Describe());
    }
}
