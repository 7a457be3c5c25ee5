using System.Globalization;
using Backup.Hypervisor.Cpu;
using Backup.Hypervisor.Translation;
using static Backup.Hypervisor.Tests.Cpu.RiscvTestMachine;

namespace Backup.Hypervisor.Tests.Cpu;

/// <summary>
/// Physical memory protection (privileged spec 3.7): OFF/TOR/NA4/NAPOT matching, R/W/X in S and U, the default
/// deny for S/U, lowest-index priority, accesses straddling an entry, the L bit (M-mode bound, writes ignored,
/// a locked TOR entry protecting its predecessor's address), MPRV, page-table walks, WARL fields, and the TLB
/// flush on a PMP write. Each test clears the prelude's all-memory entry and grants S/U only the first MiB (the
/// program, entry 15: RX) and the page RESUME_AT writes (entry 14: RW), so whatever else it configures is all there is. Faults go to M-mode
/// (m_trap_log: skip the instruction or resume at M_RESUME); ECALL from S or U halts.
/// </summary>
public class PmpTests
{
    private const ulong CodeEntryAddress = (RamBase + 0x8_0000 - 1) >> 2; // NAPOT, 1 MiB at RAM base
    private const ulong Fn = Data + 0x6000; // a small function: c.nop; addi a0, x0, 7; ret

    private static RiscvTestMachine Create(string setup, string body, PrivilegeMode mode = PrivilegeMode.Supervisor)
    {
        string enter = mode switch
        {
            PrivilegeMode.User => "ENTER_U test",
            PrivilegeMode.Supervisor => "ENTER_S test",
            _ => "j test",
        };
        var m = new RiscvTestMachine($"""
                .macro RESUME_AT label
                    la t6, \label
                    li t5, M_RESUME
                    sd t6, 0(t5)
                .endm
                .macro M_HALT
                    li t0, MSTATUS_MPRV
                    csrc mstatus, t0
                    HALT
                .endm
                .macro SET_MPP_S
                    li t0, MSTATUS_MPP
                    csrc mstatus, t0
                    li t0, 1 << 11
                    csrs mstatus, t0
                .endm
                la t0, pmp_m_handler
                csrw mtvec, t0
                csrw pmpcfg0, x0
                csrw pmpcfg2, x0
                li t0, 0x{CodeEntryAddress:x}
                csrw pmpaddr15, t0
                li t0, {Napot(ToHost, 0x1000)}
                csrw pmpaddr14, t0
                li t0, (0x1D << 56) | (0x1B << 48) # entry 15: NAPOT R+X, entry 14 (RESUME_AT's page): NAPOT RW
                csrw pmpcfg2, t0
            {setup}
                {enter}
                .align 2
            pmp_m_handler:
                csrw mscratch, t0
                csrr t0, mcause
                addi t0, t0, -8
                beqz t0, 1f
                addi t0, t0, -1
                beqz t0, 1f
                csrr t0, mscratch
                j m_trap_log
            1:  csrr t0, mscratch
                HALT
            test:
            {body}
            """);
        m.Ram.Write(Fn, [0x01, 0x00, 0x13, 0x05, 0x70, 0x00, 0x82, 0x80]);
        m.Write64(Data, 0x1111);
        return m;
    }

    private static string Napot(ulong address, ulong size) => $"0x{(address + (size / 2) - 1) >> 2:x}";

    private static string Hex(ulong value) => "0x" + value.ToString("x", CultureInfo.InvariantCulture);

    private static ulong[] Causes(RiscvTestMachine m) => [.. m.MTraps.Select(t => t.Cause)];

    private static ulong[] Tvals(RiscvTestMachine m) => [.. m.MTraps.Select(t => t.Tval)];

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

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Locked_entries_bind_m_mode_and_ignore_writes(ExecutionMode mode)
    {
        using var executionMode = UseMode(mode);
        using var m = Create(
            $"""
                li t0, {Napot(Data, 0x1000)}
                csrw pmpaddr1, t0
                li t0, (DATA + 0x2000) >> 2
                csrw pmpaddr2, t0
                li t0, (DATA + 0x3000) >> 2
                csrw pmpaddr3, t0
                li t0, 0x89009900           # entry 1 NAPOT R + L, entry 3 TOR R + L
                csrs pmpcfg0, t0
            """,
            """
                li a1, DATA
                ld s0, 0(a1)                # M reads a locked R entry
                sd a1, 0(a1)                # 7: L binds M-mode
                li a2, DATA + 0x2000
                sd a2, 0(a2)                # 7: the locked TOR entry
                li a2, DATA + 0x4000
                sd a2, 0(a2)                # no entry: M-mode succeeds
                csrw pmpcfg0, x0            # ignored for the locked bytes
                csrr s1, pmpcfg0
                li t0, -1
                csrw pmpaddr1, t0           # locked
                csrr s2, pmpaddr1
                csrw pmpaddr2, t0           # the bottom of locked TOR entry 3
                csrr s3, pmpaddr2
                csrw pmpaddr0, t0           # unlocked
                csrr s4, pmpaddr0
                li a1, DATA
                sd a1, 0(a1)                # 7: still locked
                HALT
            """,
            PrivilegeMode.Machine);
        m.Run();
        Assert.Equal([TrapCause.StoreAccessFault, TrapCause.StoreAccessFault, TrapCause.StoreAccessFault], Causes(m));
        Assert.Equal([Data, Data + 0x2000, Data], Tvals(m));
        Assert.Equal(0x1111UL, m.X("s0"));
        Assert.Equal(0x89009900UL, m.X("s1"));
        Assert.Equal(Convert.ToUInt64(Napot(Data, 0x1000), 16), m.X("s2"));
        Assert.Equal((Data + 0x2000) >> 2, m.X("s3"));
        Assert.Equal((1UL << 54) - 1, m.X("s4"));
        Assert.Equal(Data + 0x4000, m.Read64(Data + 0x4000));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Mprv_checks_m_mode_loads_and_stores_with_the_previous_privilege(ExecutionMode mode)
    {
        using var executionMode = UseMode(mode);
        using var m = Create(
            string.Empty,
            """
                li a1, DATA
                SET_MPP_S
                li t0, MSTATUS_MPRV
                csrs mstatus, t0
                ld s0, 0(a1)                # 5: checked as S-mode, no entry
                SET_MPP_S
                sd a1, 0(a1)                # 7
                li t0, MSTATUS_MPP
                csrs mstatus, t0            # MPP = M
                ld s1, 0(a1)                # M-mode again
                M_HALT
            """,
            PrivilegeMode.Machine);
        m.Run();
        Assert.Equal([TrapCause.LoadAccessFault, TrapCause.StoreAccessFault], Causes(m));
        Assert.Equal(0UL, m.X("s0"));
        Assert.Equal(0x1111UL, m.X("s1"));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Page_table_walks_are_checked_as_supervisor_accesses(ExecutionMode mode)
    {
        using var executionMode = UseMode(mode);
        const ulong va = 0x4000_0000;
        using var m = Create(
            $"""
                li t0, {Napot(Data, 0x1000)}
                csrw pmpaddr0, t0           # entry 0: the data page, RW
                li t0, 0x1B
                csrs pmpcfg0, t0
                li t0, SATP_SV39
                csrw satp, t0
            """,
            $"""
                li a1, {Hex(va)}
                SET_MPP_S
                li t0, MSTATUS_MPRV
                csrs mstatus, t0
                ld s0, 0(a1)                # 5: the walk cannot read the page table
                li t0, {Napot(PtRoot, 0x8000)}
                csrw pmpaddr1, t0
                li t0, 0x1900               # entry 1: page tables, read-only
                csrs pmpcfg0, t0
                SET_MPP_S
                ld s1, 0(a1)                # the walk reads; A is already set
                SET_MPP_S
                sd a1, 0(a1)                # 7: setting D is a store PMP refuses
                li t0, 0x0200
                csrs pmpcfg0, t0            # page tables writable
                SET_MPP_S
                sd a1, 0(a1)
                M_HALT
            """,
            PrivilegeMode.Machine);
        m.Map(va, Data, PteR | PteW | PteA);
        m.Run();
        Assert.Equal([TrapCause.LoadAccessFault, TrapCause.StoreAccessFault], Causes(m));
        Assert.Equal([va, va], Tvals(m));
        Assert.Equal(0x1111UL, m.X("s1"));
        Assert.Equal(va, m.Read64(Data));
        Assert.NotEqual(0UL, m.Read64(m.PteAddress(va, 0)) & PteD);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void A_pmp_write_drops_pages_the_tlb_cached(ExecutionMode mode)
    {
        using var executionMode = UseMode(mode);
        using var m = Create(
            $"""
                li t0, {Napot(Data, 0x1000)}
                csrw pmpaddr0, t0
                li t0, 0x1B
                csrs pmpcfg0, t0
            """,
            """
                li a1, DATA
                li s2, 3
            1:  SET_MPP_S
                li t0, MSTATUS_MPRV
                csrs mstatus, t0
                ld s0, 0(a1)                # S-mode load, cached in the TLB
                sd s0, 8(a1)
                li t0, MSTATUS_MPRV
                csrc mstatus, t0
                addi s2, s2, -1
                bnez s2, 1b
                csrci pmpcfg0, 3            # entry 0: no longer readable or writable
                SET_MPP_S
                li t0, MSTATUS_MPRV
                csrs mstatus, t0
                ld s1, 0(a1)                # 5
                SET_MPP_S
                sd a1, 8(a1)                # 7
                M_HALT
            """,
            PrivilegeMode.Machine);
        m.Run();
        Assert.Equal([TrapCause.LoadAccessFault, TrapCause.StoreAccessFault], Causes(m));
        Assert.Equal(0x1111UL, m.X("s0"));
        Assert.Equal(0UL, m.X("s1"));
        Assert.Equal(0x1111UL, m.Read64(Data + 8));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Pmp_csrs_are_warl(ExecutionMode mode)
    {
        using var executionMode = UseMode(mode);
        using var m = Create(
            string.Empty,
            """
                li t0, 0x7E                 # entry 0: reserved bits 5-6, W without R
                csrw pmpcfg0, t0
                csrr s0, pmpcfg0
                li t0, -1
                csrw pmpaddr3, t0
                csrr s1, pmpaddr3
                csrw pmpcfg4, t0            # entries 16-23 are not implemented
                csrr s2, pmpcfg4
                csrr s3, pmpcfg2            # entry 15 as configured
                csrr s4, pmpcfg1            # 2: odd pmpcfg registers do not exist on RV64
                HALT
            """,
            PrivilegeMode.Machine);
        m.Run();
        Assert.Equal(0x1CUL, m.X("s0"));
        Assert.Equal((1UL << 54) - 1, m.X("s1"));
        Assert.Equal(0UL, m.X("s2"));
        Assert.Equal((0x1DUL << 56) | (0x1BUL << 48), m.X("s3"));
        var trap = Assert.Single(m.MTraps);
        Assert.Equal(TrapCause.IllegalInstruction, trap.Cause);
        Assert.Equal(0x3A102A73UL, trap.Tval); // csrr s4, pmpcfg1
    }

    [Fact]
    public void A_hart_with_host_firmware_implements_no_pmp()
    {
        using var host = new RiscvTestMachine("_start:\n HALT", firmware: new NoFirmwareCalls(), withPrelude: false);
        using var guest = new RiscvTestMachine("HALT");
        Assert.Equal(0, host.Hart.PmpEntryCount);
        Assert.Equal(16, guest.Hart.PmpEntryCount);
    }
}

/// <summary>A host firmware for tests that make no supervisor calls.</summary>
internal sealed class NoFirmwareCalls : ISupervisorCallHandler
{
    public void HandleSupervisorCall(Hart hart) => throw new InvalidOperationException("no supervisor call was expected");
}
