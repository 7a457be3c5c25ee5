using Backup.Hypervisor.Translation;
using Backup.Hypervisor.Cpu;
using static Backup.Hypervisor.Tests.Cpu.RiscvTestMachine;

namespace Backup.Hypervisor.Tests.Cpu;

/// <summary>
/// Sv39 translation (privileged spec 10.3 / 4.3 "Sv32" algorithm as extended by 4.4 "Sv39"): page sizes,
/// permissions, U/S separation, SUM/MXR, invalid and misaligned PTEs, A/D updates, SFENCE.VMA, satp WARL, MPRV.
/// Page tables are built from C#: RAM is identity-mapped by a 1 GiB page; test pages live at VA 0x4000_0000+.
/// Faults go to M (m_trap_log, skipping the instruction, or resuming at M_RESUME); ECALL from U halts.
/// </summary>
public class Sv39Tests
{
    private const ulong Va = 0x4000_0000;
    private const ulong Code = Data + 0x6000;      // physical page holding "addi a0, x0, 7; ret"
    private const ulong Rwad = PteR | PteW | PteA | PteD;

    private static RiscvTestMachine Create(string body, PrivilegeMode mode = PrivilegeMode.Supervisor, string machineSetup = "")
    {
        string enter = mode == PrivilegeMode.User ? "ENTER_U" : "ENTER_S";
        var m = new RiscvTestMachine($"""
                .macro RESUME_AT label
                    la t6, \label
                    li t5, M_RESUME
                    sd t6, 0(t5)
                .endm
                la t0, mmu_m_handler
                csrw mtvec, t0
                li t0, SATP_SV39
                csrw satp, t0
                sfence.vma
            {machineSetup}
                {enter} test
                .align 2
            mmu_m_handler:
                csrw mscratch, t0
                csrr t0, mcause
                addi t0, t0, -8
                bnez t0, 1f
                csrr t0, mscratch
                j m_trap_halt
            1:  csrr t0, mscratch
                j m_trap_log
            test:
            {body}
            """);
        ulong identity = PteR | PteW | PteX | PteA | PteD | (mode == PrivilegeMode.User ? PteU : 0);
        m.Map(RamBase, RamBase, identity, level: 2);
        m.Ram.Write(Code, [0x13, 0x05, 0x70, 0x00, 0x67, 0x80, 0x00, 0x00]);
        return m;
    }

    private static ulong[] Causes(RiscvTestMachine m) => [.. m.MTraps.Select(t => t.Cause)];

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Four_kib_two_mib_and_one_gib_pages_translate(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = Create("""
                li a1, 0x40000010
                li a2, 0x1111
                sd a2, 0(a1)
                li a1, 0x40212340
                li a2, 0x2222
                sd a2, 0(a1)
                li a1, 0xC0100020
                li a2, 0x3333
                sd a2, 0(a1)
                li a1, 0x40000010
                ld s0, 0(a1)
                li a1, 0x40212340
                ld s1, 0(a1)
                li a1, 0xC0100020
                ld s2, 0(a1)
                li a1, 0x40001000           # the 4 KiB mapping does not extend to the next page
                ld s3, 0(a1)
                HALT
            """);
        m.Map(Va, Data + 0x1000, Rwad);
        m.Map(Va + 0x20_0000, 0x8020_0000, Rwad, level: 1);
        m.Map(0xC000_0000, RamBase, Rwad, level: 2);
        m.Run();
        Assert.Equal(0x1111UL, m.Read64(Data + 0x1010));
        Assert.Equal(0x2222UL, m.Read64(0x8021_2340));
        Assert.Equal(0x3333UL, m.Read64(Data + 0x20));
        Assert.Equal([0x1111UL, 0x2222UL, 0x3333UL], new[] { m.X("s0"), m.X("s1"), m.X("s2") });
        var t = Assert.Single(m.MTraps);
        Assert.Equal(TrapCause.LoadPageFault, t.Cause);
        Assert.Equal(Va + 0x1000, t.Tval);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Read_write_execute_permissions_and_mxr(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = Create("""
                li a1, 0x40001000           # R
                ld s0, 0(a1)
                sd s0, 0(a1)                # 15
                amoadd.d x0, x0, (a1)       # 15: AMOs need write permission
                lr.d s1, (a1)               # LR needs only read permission
                li a1, 0x40002000           # X only
                ld s2, 0(a1)                # 13
                sd s2, 0(a1)                # 15
                li a0, 0
                jalr ra, 0(a1)              # executes: a0 = 7
                mv s3, a0
                li a1, 0x40001000
                RESUME_AT 1f
                jalr ra, 0(a1)              # 12: R page is not executable
            1:  li a1, 0x40003000           # RW
                sd a1, 0(a1)
                ld s4, 0(a1)
                RESUME_AT 2f
                jalr ra, 0(a1)              # 12
            2:  li t0, MSTATUS_MXR
                csrs sstatus, t0
                li a1, 0x40002000
                ld s5, 0(a1)                # MXR: X-only page readable
                sd s5, 0(a1)                # 15: but still not writable
                li a1, 0x40004000           # R+X
                ld s6, 0(a1)
                jalr ra, 0(a1)
                HALT
            """);
        m.Map(Va + 0x1000, Data + 0x1000, PteR | PteA | PteD);
        m.Map(Va + 0x2000, Code, PteX | PteA | PteD);
        m.Map(Va + 0x3000, Data + 0x3000, Rwad);
        m.Map(Va + 0x4000, Code, PteR | PteX | PteA | PteD);
        m.Write64(Data + 0x1000, 0xABCD);
        m.Run();
        ulong lp = TrapCause.LoadPageFault, sp = TrapCause.StorePageFault, ip = TrapCause.InstructionPageFault;
        Assert.Equal([sp, sp, lp, sp, ip, ip, sp], Causes(m));
        Assert.Equal([Va + 0x1000, Va + 0x1000, Va + 0x2000, Va + 0x2000, Va + 0x1000, Va + 0x3000, Va + 0x2000], m.MTraps.Select(t => t.Tval));
        Assert.Equal(0xABCDUL, m.X("s0"));
        Assert.Equal(0xABCDUL, m.X("s1"));
        Assert.Equal(7UL, m.X("s3"));
        Assert.Equal(Va + 0x3000, m.X("s4"));
        Assert.Equal(0x0070_0513UL | (0x0000_8067UL << 32), m.X("s5"));
        Assert.Equal(m.X("s5"), m.X("s6"));
        Assert.Equal(0xABCDUL, m.Read64(Data + 0x1000));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Supervisor_access_to_user_pages_needs_sum_and_never_executes(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = Create("""
                li a1, 0x40001000           # U, RW
                ld s0, 0(a1)                # 13: SUM = 0
                sd s0, 0(a1)                # 15
                li t0, MSTATUS_SUM
                csrs sstatus, t0
                ld s1, 0(a1)                # ok
                li a2, 0x77
                sd a2, 0(a1)                # ok
                li a1, 0x40002000           # U, RX
                RESUME_AT 1f
                jalr ra, 0(a1)              # 12 even with SUM
            1:  ld s2, 0(a1)                # readable with SUM
                li t0, MSTATUS_SUM
                csrc sstatus, t0
                ld s3, 0(a1)                # 13 again
                HALT
            """);
        m.Map(Va + 0x1000, Data + 0x1000, Rwad | PteU);
        m.Map(Va + 0x2000, Code, PteR | PteX | PteU | PteA);
        m.Write64(Data + 0x1000, 0x5555);
        m.Run();
        Assert.Equal([TrapCause.LoadPageFault, TrapCause.StorePageFault, TrapCause.InstructionPageFault, TrapCause.LoadPageFault], Causes(m));
        Assert.Equal(0x5555UL, m.X("s1"));
        Assert.Equal(0x77UL, m.Read64(Data + 0x1000));
        Assert.Equal(0x0070_0513UL | (0x0000_8067UL << 32), m.X("s2"));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void User_mode_cannot_touch_supervisor_pages(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = Create("""
                li a1, 0x40001000           # S page, RW
                ld s0, 0(a1)                # 13
                sd s0, 0(a1)                # 15
                li a1, 0x40002000           # S page, RX
                RESUME_AT 1f
                jalr ra, 0(a1)              # 12
            1:  li a1, 0x40003000           # U page, RX
                li a0, 0
                jalr ra, 0(a1)              # ok
                mv s1, a0
                li a1, 0x40004000           # U page, X only; MXR does not matter to U without it
                ld s2, 0(a1)                # 13
                ecall
            """, PrivilegeMode.User);
        m.Map(Va + 0x1000, Data + 0x1000, Rwad);
        m.Map(Va + 0x2000, Code, PteR | PteX | PteA);
        m.Map(Va + 0x3000, Code, PteR | PteX | PteU | PteA);
        m.Map(Va + 0x4000, Code, PteX | PteU | PteA);
        m.Run();
        Assert.Equal([TrapCause.LoadPageFault, TrapCause.StorePageFault, TrapCause.InstructionPageFault, TrapCause.LoadPageFault, TrapCause.EnvironmentCallFromU], Causes(m));
        Assert.Equal(7UL, m.X("s1"));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Invalid_reserved_and_misaligned_ptes_fault(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = Create("""
                li a1, 0x40001000           # V = 0
                ld a0, 0(a1)
                li a1, 0x40002000           # W without R
                ld a0, 0(a1)
                sd a0, 0(a1)
                li a1, 0x40003000           # W+X without R
                ld a0, 0(a1)
                li a1, 0x40004000           # reserved bit 60
                ld a0, 0(a1)
                li a1, 0x40005000           # reserved bit 54
                ld a0, 0(a1)
                li a1, 0x40006000           # non-leaf at level 0
                ld a0, 0(a1)
                li a1, 0x40200000           # 2 MiB leaf with PPN[0] != 0
                ld a0, 0(a1)
                li a1, 0xC0000000           # 1 GiB leaf with PPN[1] != 0
                ld a0, 0(a1)
                li a1, 0x40007000           # valid, for contrast
                ld s0, 0(a1)
                li a1, 0x40001000
                RESUME_AT 1f
                jalr ra, 0(a1)              # fetch through V = 0
            1:  HALT
            """);
        m.SetPte(Va + 0x1000, 0, ((Data + 0x1000) >> 12 << 10) | PteR | PteW | PteA | PteD);
        m.SetPte(Va + 0x2000, 0, ((Data + 0x1000) >> 12 << 10) | PteV | PteW | PteA | PteD);
        m.SetPte(Va + 0x3000, 0, (Code >> 12 << 10) | PteV | PteW | PteX | PteA | PteD);
        m.SetPte(Va + 0x4000, 0, ((Data + 0x1000) >> 12 << 10) | PteV | Rwad | (1UL << 60));
        m.SetPte(Va + 0x5000, 0, ((Data + 0x1000) >> 12 << 10) | PteV | Rwad | (1UL << 54));
        m.SetPte(Va + 0x6000, 0, ((Data + 0x1000) >> 12 << 10) | PteV);
        m.Map(Va + 0x20_0000, 0x8020_1000, Rwad, level: 1);
        m.Map(0xC000_0000, 0x8020_0000, Rwad, level: 2);
        m.Map(Va + 0x7000, Data + 0x1000, Rwad);
        m.Write64(Data + 0x1000, 0x4242);
        m.Run();
        ulong lp = TrapCause.LoadPageFault;
        Assert.Equal([lp, lp, TrapCause.StorePageFault, lp, lp, lp, lp, lp, lp, TrapCause.InstructionPageFault], Causes(m));
        Assert.Equal(0x4242UL, m.X("s0"));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Non_canonical_virtual_addresses_fault(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = Create("""
                li a1, 0x0000008000000000   # bit 39 set, bit 38 clear
                ld a0, 0(a1)
                sd a0, 0(a1)
                li a1, 0xFFFFFF0000000000   # bits 63..39 set, bit 38 clear
                ld a0, 0(a1)
                li a1, 0x8000000080000000   # bit 63 only: would alias the identity map if truncated
                ld a0, 0(a1)
                RESUME_AT 1f
                jalr ra, 0(a1)
            1:  HALT
            """);
        m.Run();
        Assert.Equal([TrapCause.LoadPageFault, TrapCause.StorePageFault, TrapCause.LoadPageFault, TrapCause.LoadPageFault, TrapCause.InstructionPageFault], Causes(m));
        Assert.Equal([0x0000_0080_0000_0000UL, 0x0000_0080_0000_0000UL, 0xFFFF_FF00_0000_0000UL, 0x8000_0000_8000_0000UL, 0x8000_0000_8000_0000UL], m.MTraps.Select(t => t.Tval));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Hardware_sets_accessed_and_dirty_bits(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = Create("""
                li a1, 0x40001000
                ld a0, 0(a1)                # A
                li a1, 0x40002000
                sd a0, 0(a1)                # A + D
                li a1, 0x40003000
                jalr ra, 0(a1)              # A (fetch)
                li a1, 0x40004000
                amoor.d x0, x0, (a1)        # A + D
                HALT
            """);
        ulong[] vas = [Va + 0x1000, Va + 0x2000, Va + 0x3000, Va + 0x4000, Va + 0x5000];
        m.Map(vas[0], Data + 0x1000, PteR | PteW);
        m.Map(vas[1], Data + 0x2000, PteR | PteW);
        m.Map(vas[2], Code, PteX);
        m.Map(vas[3], Data + 0x3000, PteR | PteW);
        m.Map(vas[4], Data + 0x4000, PteR | PteW);   // untouched
        m.Run();
        ulong Ad(ulong va) => m.Read64(m.PteAddress(va, 0)) & (PteA | PteD);
        Assert.Equal(PteA, Ad(vas[0]));
        Assert.Equal(PteA | PteD, Ad(vas[1]));
        Assert.Equal(PteA, Ad(vas[2]));
        Assert.Equal(PteA | PteD, Ad(vas[3]));
        Assert.Equal(0UL, Ad(vas[4]));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void A_misaligned_store_into_a_faulting_page_sets_no_dirty_bit_on_the_first_page(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = Create("""
                li a1, 0x40001ffc
                li a0, -1
                sd a0, 0(a1)                # bytes 0x...ffc-fff on page 1, the rest on unmapped page 2
                HALT
            """);
        m.Map(Va + 0x1000, Data + 0x1000, PteR | PteW);  // A and D clear
        m.Run();
        Assert.Equal([TrapCause.StorePageFault], Causes(m));
        Assert.Equal(0UL, m.Read64(m.PteAddress(Va + 0x1000, 0)) & (PteA | PteD));
        Assert.Equal(0UL, m.Read64(Data + 0x1ff8));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Sfence_vma_makes_pte_changes_visible(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var probe = new RiscvTestMachine("HALT");
        ulong pteAddress = probe.PteAddress(Va + 0x1000, 0);
        using var m = Create($"""
                li a1, 0x40001000
                li a3, {pteAddress}
                ld s0, 0(a1)                # PA DATA+0x1000
                li a2, ((DATA + 0x2000) >> 12 << 10) | 0xC7
                sd a2, 0(a3)
                sfence.vma a1, x0
                ld s1, 0(a1)                # PA DATA+0x2000
                li a2, ((DATA + 0x3000) >> 12 << 10) | 0xC7
                sd a2, 0(a3)
                sfence.vma
                ld s2, 0(a1)                # PA DATA+0x3000
                sd x0, 0(a3)                # invalid
                sfence.vma x0, x0
                ld s3, 0(a1)                # 13
                HALT
            """);
        Assert.Equal(pteAddress, m.PteAddress(Va + 0x1000, 0));
        m.Map(Va + 0x1000, Data + 0x1000, Rwad);
        m.Write64(Data + 0x1000, 0x1111);
        m.Write64(Data + 0x2000, 0x2222);
        m.Write64(Data + 0x3000, 0x3333);
        m.Run();
        Assert.Equal([0x1111UL, 0x2222UL, 0x3333UL], new[] { m.X("s0"), m.X("s1"), m.X("s2") });
        Assert.Equal([TrapCause.LoadPageFault], Causes(m));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Satp_ignores_unsupported_modes(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine("""
                li t0, SATP_SV39
                csrw satp, t0
                csrr s0, satp
                li t1, (9 << 60) | 0x12345
                csrw satp, t1               # Sv48: not supported, no effect
                csrr s1, satp
                li t1, (10 << 60) | 0x12345
                csrw satp, t1               # Sv57
                csrr s2, satp
                li t1, (1 << 60) | 0x12345
                csrw satp, t1               # reserved mode
                csrr s3, satp
                csrw satp, x0
                csrr s4, satp
                HALT
            """);
        m.Run();
        ulong sv39 = (8UL << 60) | (PtRoot >> 12);
        Assert.Equal([sv39, sv39, sv39, sv39, 0UL], new[] { m.X("s0"), m.X("s1"), m.X("s2"), m.X("s3"), m.X("s4") });
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Mprv_translates_machine_mode_loads_and_stores_with_mpp_privilege(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine("""
                la t0, m_trap_log
                csrw mtvec, t0
                li t0, SATP_SV39
                csrw satp, t0
                li a1, 0x40001000
                li t0, MSTATUS_MPRV | (1 << 11)     # MPRV, MPP = S
                csrs mstatus, t0
                ld s0, 0(a1)                         # translated: PA DATA+0x1000
                li a2, 0x99
                sd a2, 8(a1)                         # translated store
                li t0, MSTATUS_MPP
                csrs mstatus, t0                     # MPP = M: physical
                li a3, DATA + 0x1000
                ld s1, 0(a3)
                li t0, MSTATUS_MPP
                csrc mstatus, t0                     # MPP = U: S page is not accessible
                ld s2, 0(a1)                         # 13
                li t0, MSTATUS_MPRV
                csrc mstatus, t0
                csrw satp, x0
                HALT
            """);
        m.Map(RamBase, RamBase, PteR | PteW | PteX | PteA | PteD, level: 2);
        m.Map(Va + 0x1000, Data + 0x1000, Rwad);
        m.Write64(Data + 0x1000, 0x1234);
        m.Run();
        Assert.Equal(0x1234UL, m.X("s0"));
        Assert.Equal(0x99UL, m.Read64(Data + 0x1008));
        Assert.Equal(0x1234UL, m.X("s1"));
        var t = Assert.Single(m.MTraps);
        Assert.Equal(TrapCause.LoadPageFault, t.Cause);
        Assert.Equal(Va + 0x1000, t.Tval);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Ptes_pointing_outside_ram_give_access_faults(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = Create("""
                li a1, 0x40001000           # leaf -> unmapped physical page
                ld a0, 0(a1)                # 5
                sd a0, 0(a1)                # 7
                amoswap.d a0, a0, (a1)      # 7
                li a1, 0x40400000           # level-1 entry -> table outside RAM
                ld a0, 0(a1)                # 5
                sd a0, 0(a1)                # 7
                li a1, 0x40002000           # leaf -> MMIO device: works
                ld s0, 8(a1)
                HALT
            """);
        m.Map(Va + 0x1000, Unmapped, Rwad);
        m.SetPte(Va + 0x40_0000, 1, (Unmapped >> 12 << 10) | PteV);
        m.Map(Va + 0x2000, MmioBase, Rwad);
        m.Run();
        ulong lf = TrapCause.LoadAccessFault, sf = TrapCause.StoreAccessFault;
        Assert.Equal([lf, sf, sf, lf, sf], Causes(m));
        Assert.Equal([Va + 0x1000, Va + 0x1000, Va + 0x1000, Va + 0x40_0000, Va + 0x40_0000], m.MTraps.Select(t => t.Tval));
        Assert.Equal(0x1122_3344_5566_7788UL + 8, m.X("s0"));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Misaligned_access_across_pages_uses_both_translations(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = Create("""
                li a1, 0x40001FFC
                li a2, 0x1122334455667788
                sd a2, 0(a1)
                ld s0, 0(a1)
                lw s1, 2(a1)
                li a1, 0x40002FFE
                lw a0, 0(a1)                # second page invalid: 13
                sw a0, 0(a1)                # 15
                HALT
            """);
        m.Map(Va + 0x1000, Data + 0x3000, Rwad);
        m.Map(Va + 0x2000, Data + 0x1000, Rwad);
        m.Run();
        Assert.Equal(0x5566_7788U, m.Read32(Data + 0x3FFC));
        Assert.Equal(0x1122_3344U, m.Read32(Data + 0x1000));
        Assert.Equal(0x1122_3344_5566_7788UL, m.X("s0"));
        Assert.Equal(0x3344_5566UL, m.X("s1"));
        Assert.Equal([TrapCause.LoadPageFault, TrapCause.StorePageFault], Causes(m));
        Assert.All(m.MTraps, t => Assert.InRange(t.Tval, Va + 0x2FFE, Va + 0x3000));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Instruction_straddling_into_an_unmapped_page_faults_at_its_start(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = Create("""
                li a1, 0x40001FFC
                RESUME_AT 1f
                li a0, 0
                jalr ra, 0(a1)
            1:  HALT
            """);
        m.Map(Va + 0x1000, Data + 0x3000, PteR | PteX | PteA);
        m.Ram.Write(Data + 0x3FFC, [0x05, 0x05]);                 // c.addi a0, 1
        m.Ram.Write(Data + 0x3FFE, [0x13, 0x05, 0x55, 0x00]);     // addi a0, a0, 5 -- upper half in the next page
        m.Run();
        var t = Assert.Single(m.MTraps);
        Assert.Equal(TrapCause.InstructionPageFault, t.Cause);
        Assert.Equal(Va + 0x1FFE, t.Epc);
        Assert.InRange(t.Tval, Va + 0x1FFE, Va + 0x2000);
        Assert.Equal(1UL, m.X("a0"));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Delegated_page_faults_reach_s_mode_with_stval(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = Create(
            """
                li a1, 0x40001000           # R only
                ld s0, 0(a1)
                sd s0, 0(a1)                # 15 -> S
                li a1, 0x40002000           # V = 0
                ld a0, 0(a1)                # 13 -> S
                la t0, 1f
                li t1, S_RESUME
                sd t0, 0(t1)
                jalr ra, 0(a1)              # 12 -> S
            1:  HALT
            """,
            machineSetup: """
                li t0, (1 << 12) | (1 << 13) | (1 << 15)
                csrw medeleg, t0
                la t0, s_trap_log
                csrw stvec, t0
            """);
        m.Map(Va + 0x1000, Data + 0x1000, PteR | PteA);
        m.Write64(Data + 0x1000, 0x6666);
        m.Run();
        Assert.Empty(m.MTraps);
        Assert.Equal([TrapCause.StorePageFault, TrapCause.LoadPageFault, TrapCause.InstructionPageFault], m.STraps.Select(t => t.Cause));
        Assert.Equal([Va + 0x1000, Va + 0x2000, Va + 0x2000], m.STraps.Select(t => t.Tval));
        Assert.Equal(0x6666UL, m.X("s0"));
    }
}
