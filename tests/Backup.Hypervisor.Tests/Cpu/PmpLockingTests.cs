using Backup.Hypervisor.Cpu;
using Backup.Hypervisor.Translation;
using static Backup.Hypervisor.Tests.Cpu.RiscvTestMachine;
using static Backup.Hypervisor.Tests.Cpu.PmpTestMachine;

namespace Backup.Hypervisor.Tests.Cpu;

/// <summary>
/// Physical memory protection (privileged spec 3.7), control: the L bit (M-mode bound, writes ignored, a locked
/// TOR entry protecting its predecessor's address), MPRV, page-table walks, the TLB flush on a PMP write, WARL
/// fields, and no PMP on a hart whose M-mode is the host.
/// </summary>
public class PmpLockingTests
{
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
