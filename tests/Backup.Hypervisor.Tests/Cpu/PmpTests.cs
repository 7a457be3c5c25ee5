using Backup.Hypervisor.Cpu;
using Backup.Hypervisor.Translation;
using static Backup.Hypervisor.Tests.Cpu.RiscvTestMachine;
using static Backup.Hypervisor.Tests.Cpu.PmpTestMachine;

namespace Backup.Hypervisor.Tests.Cpu;

/// <summary>
/// Physical memory protection (privileged spec 3.7), matching and permissions: OFF/TOR/NA4/NAPOT, R/W/X in S and U,
/// the default deny for S/U, lowest-index priority, accesses straddling an entry, fetches of a page PMP splits.
/// </summary>
public class PmpTests
{
    [Theory]
    [MemberData(nameof(ExecutionModes.Cross), typeof(PmpTests), nameof(LowerModes), MemberType = typeof(ExecutionModes))]
    public void Without_a_matching_entry_s_and_u_fail_with_access_faults_and_m_succeeds(PrivilegeMode privilege, ExecutionMode mode)
    {
        using var executionMode = UseMode(mode);
        using var m = Create(
            """
                li a1, DATA
                ld s0, 0(a1)                # M-mode: no entry matches, the access succeeds
            """,
            """
                li a1, DATA
                ld s1, 0(a1)                # 5
                sd a1, 0(a1)                # 7
                amoadd.d x0, a1, (a1)       # 7
                lr.d s2, (a1)               # 5
                RESUME_AT 1f
                jalr ra, 0(a1)              # 1
            1:  ecall
            """,
            privilege);
        m.Run();
        Assert.Equal(0x1111UL, m.X("s0"));
        Assert.Equal(0UL, m.X("s1"));
        Assert.Equal([TrapCause.LoadAccessFault, TrapCause.StoreAccessFault, TrapCause.StoreAccessFault, TrapCause.LoadAccessFault, TrapCause.InstructionAccessFault], Causes(m));
        Assert.Equal([Data, Data, Data, Data, Data], Tvals(m));
        Assert.Equal(0x1111UL, m.Read64(Data));
    }

    public static IEnumerable<object[]> LowerModes() => [[PrivilegeMode.Supervisor], [PrivilegeMode.User]];

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void With_every_entry_off_supervisor_code_cannot_even_be_fetched(ExecutionMode mode)
    {
        using var executionMode = UseMode(mode);
        using var m = new RiscvTestMachine("""
                la t0, m_trap_halt
                csrw mtvec, t0
                csrw pmpcfg0, x0
                ENTER_S target
            target:
                nop
            """);
        m.Run();
        var trap = Assert.Single(m.MTraps);
        Assert.Equal(TrapCause.InstructionAccessFault, trap.Cause);
        Assert.Equal(trap.Epc, trap.Tval);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Read_write_and_execute_each_grant_their_own_access(ExecutionMode mode)
    {
        using var executionMode = UseMode(mode);
        using var m = Create(
            $"""
                li t0, {Napot(Data, 0x1000)}
                csrw pmpaddr0, t0
                li t0, {Napot(Data + 0x1000, 0x1000)}
                csrw pmpaddr1, t0
                li t0, {Napot(Fn, 0x1000)}
                csrw pmpaddr2, t0
                li t0, 0x1C1B19             # entry 0 NAPOT R, entry 1 NAPOT RW, entry 2 NAPOT X
                csrs pmpcfg0, t0
            """,
            """
                li a1, DATA
                ld s0, 0(a1)                # R: ok
                sd a1, 0(a1)                # 7
                RESUME_AT 1f
                jalr ra, 0(a1)              # 1: not executable
            1:  li a1, DATA + 0x1000
                sd a1, 0(a1)                # RW: ok
                ld s1, 0(a1)
                li a1, DATA + 0x6000
                ld s2, 0(a1)                # 5: execute-only
                li a0, 0
                jalr ra, 0(a1)              # runs: a0 = 7
                mv s3, a0
                ecall
            """);
        m.Run();
        Assert.Equal([TrapCause.StoreAccessFault, TrapCause.InstructionAccessFault, TrapCause.LoadAccessFault], Causes(m));
        Assert.Equal([Data, Data, Fn], Tvals(m));
        Assert.Equal(0x1111UL, m.X("s0"));
        Assert.Equal(Data + 0x1000, m.X("s1"));
        Assert.Equal(0UL, m.X("s2"));
        Assert.Equal(7UL, m.X("s3"));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void The_lowest_numbered_matching_entry_decides(ExecutionMode mode)
    {
        using var executionMode = UseMode(mode);
        using var m = Create(
            $"""
                li t0, {Napot(Data, 0x1000)}
                csrw pmpaddr1, t0           # entry 1: 4 KiB, no permission
                li t0, {Napot(Data, 0x10000)}
                csrw pmpaddr2, t0           # entry 2: 64 KiB, RW
                li t0, {Napot(Data + 0x10000, 0x10000)}
                csrw pmpaddr3, t0           # entry 3: 64 KiB, RW
                li t0, {Napot(Data + 0x10000, 0x1000)}
                csrw pmpaddr4, t0           # entry 4: 4 KiB inside entry 3, no permission: never decides
                li t0, 0x181B1B1800
                csrs pmpcfg0, t0
            """,
            """
                li a1, DATA
                ld s0, 0(a1)                # 5: entry 1 matches first
                li a1, DATA + 0x1000
                sd a1, 0(a1)                # entry 2
                li a1, DATA + 0x10000
                sd a1, 0(a1)                # entry 3 wins over entry 4
                ld s1, 0(a1)
                ecall
            """);
        m.Run();
        Assert.Equal([TrapCause.LoadAccessFault], Causes(m));
        Assert.Equal(Data + 0x1000, m.Read64(Data + 0x1000));
        Assert.Equal(Data + 0x10000, m.X("s1"));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void An_access_an_entry_matches_only_in_part_fails_even_if_a_later_entry_covers_it(ExecutionMode mode)
    {
        using var executionMode = UseMode(mode);
        using var m = Create(
            $"""
                li t0, DATA >> 2
                csrw pmpaddr0, t0           # entry 0 off: only the bottom of entry 1
                li t0, (DATA + 0x10) >> 2
                csrw pmpaddr1, t0           # entry 1: TOR [DATA, DATA + 0x10), RW
                li t0, {Napot(Data, 0x10000)}
                csrw pmpaddr2, t0           # entry 2: 64 KiB RW
                li t0, 0x1B0B00
                csrs pmpcfg0, t0
            """,
            """
                li a1, DATA + 8
                ld s0, 0(a1)                # inside entry 1
                lw s1, 4(a1)                # inside entry 1
                ld s2, 4(a1)                # 5: bytes 0xC-0x13 straddle entry 1's top
                sd a1, 4(a1)                # 7, nothing written
                lw s3, 8(a1)                # entry 2
                ecall
            """);
        m.Run();
        Assert.Equal([TrapCause.LoadAccessFault, TrapCause.StoreAccessFault], Causes(m));
        Assert.Equal([Data + 0xC, Data + 0xC], Tvals(m));
        Assert.Equal(0U, m.Read32(Data + 0x10));
        Assert.Equal(0UL, m.X("s2"));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Tor_ranges_include_the_bottom_and_exclude_the_top(ExecutionMode mode)
    {
        using var executionMode = UseMode(mode);
        using var m = Create(
            """
                li t0, (DATA + 0x100) >> 2
                csrw pmpaddr2, t0           # entry 2 off: only its address counts
                li t0, (DATA + 0x200) >> 2
                csrw pmpaddr3, t0
                li t0, (MMIO + 0x1000) >> 2
                csrw pmpaddr0, t0           # entry 0: TOR [0, MMIO + 0x1000), read-only
                li t0, 0x0B000009
                csrs pmpcfg0, t0
            """,
            """
                li a1, DATA + 0x100
                sd a1, 0(a1)                # bottom: inside
                sd a1, 0xF8(a1)             # last doubleword: inside
                sd a1, 0x100(a1)            # 7: the top is outside
                sd a1, -8(a1)               # 7: below the bottom
                li a2, MMIO
                ld s0, 0(a2)                # device read through entry 0
                sd a2, 0(a2)                # 7
                ecall
            """);
        m.Run();
        Assert.Equal([TrapCause.StoreAccessFault, TrapCause.StoreAccessFault, TrapCause.StoreAccessFault], Causes(m));
        Assert.Equal([Data + 0x200, Data + 0xF8, MmioBase], Tvals(m));
        Assert.Equal(Data + 0x100, m.Read64(Data + 0x1F8));
        Assert.Equal(0x1122_3344_5566_7788UL, m.X("s0"));
        Assert.Empty(m.Device.Writes);
    }

    public static TheoryData<ulong> NapotSizes => new() { 8, 16, 0x1000, 0x2_0000 };

    [Theory]
    [MemberData(nameof(ExecutionModes.Cross), typeof(PmpTests), nameof(NapotSizes), MemberType = typeof(ExecutionModes))]
    public void Napot_regions_cover_exactly_their_size(ulong size, ExecutionMode mode)
    {
        using var executionMode = UseMode(mode);
        ulong bottom = Data + 0x4_0000;
        using var m = Create(
            $"""
                li t0, {Napot(bottom, size)}
                csrw pmpaddr0, t0
                li t0, 0x1B
                csrs pmpcfg0, t0
            """,
            $"""
                li a1, {Hex(bottom)}
                sd a1, 0(a1)
                li a3, {Hex(bottom + size - 8)}
                sd a1, 0(a3)
                li a2, {Hex(bottom + size)}
                sd a2, 0(a2)                # 7
                sd a2, -8(a1)               # 7
                ecall
            """);
        m.Run();
        Assert.Equal([TrapCause.StoreAccessFault, TrapCause.StoreAccessFault], Causes(m));
        Assert.Equal([bottom + size, bottom - 8], Tvals(m));
        Assert.Equal(bottom, m.Read64(bottom + size - 8));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Na4_covers_four_bytes(ExecutionMode mode)
    {
        using var executionMode = UseMode(mode);
        using var m = Create(
            """
                li t0, (DATA + 0x20) >> 2
                csrw pmpaddr0, t0
                li t0, 0x13                 # NA4, RW
                csrs pmpcfg0, t0
            """,
            """
                li a1, DATA + 0x20
                sw a1, 0(a1)
                sh a1, 2(a1)
                sd a1, 0(a1)                # 7: eight bytes
                sw a1, 4(a1)                # 7
                ecall
            """);
        m.Run();
        Assert.Equal([TrapCause.StoreAccessFault, TrapCause.StoreAccessFault], Causes(m));
        Assert.Equal([Data + 0x20, Data + 0x24], Tvals(m));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Instruction_fetch_checks_every_half_word_of_a_page_pmp_splits(ExecutionMode mode)
    {
        using var executionMode = UseMode(mode);
        using var m = Create(
            $"""
                li t0, (DATA + 0x6014) >> 2
                csrw pmpaddr0, t0           # entry 0: NA4 over the copy's last word: no permission
                li t0, {Napot(Fn, 8)}
                csrw pmpaddr1, t0           # entry 1: the 8-byte function, X
                li t0, {Napot(Fn + 0x10, 8)}
                csrw pmpaddr2, t0           # entry 2: its copy, whose last word entry 0 denies
                li t0, 0x1C1C10
                csrs pmpcfg0, t0
            """,
            """
                li a0, 0
                li a1, DATA + 0x6000
                jalr ra, 0(a1)              # runs: a0 = 7
                mv s0, a0
                li a0, 0
                RESUME_AT 1f
                li a1, DATA + 0x6010
                jalr ra, 0(a1)              # c.nop runs; addi at +2 straddles into the denied word: 1 at +4
            1:  mv s1, a0
                ecall
            """);
        m.Ram.Write(Fn + 0x10, [0x01, 0x00, 0x13, 0x05, 0x70, 0x00, 0x82, 0x80]);
        m.Run();
        Assert.Equal(7UL, m.X("s0"));
        Assert.Equal(0UL, m.X("s1"));
        Assert.Equal([TrapCause.InstructionAccessFault], Causes(m));
        Assert.Equal([Fn + 0x14], Tvals(m));
        Assert.Equal(Fn + 0x12, m.MTraps[0].Epc);
    }
}
