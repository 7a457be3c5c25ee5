using Backup.Hypervisor.Sbi;
using Backup.Hypervisor.Tests.Cpu;
using static Backup.Hypervisor.Tests.Cpu.RiscvTestMachine;

namespace Backup.Hypervisor.Tests.Sbi;

/// <summary>
/// RFENCE remote_sfence_vma does what an SFENCE.VMA on the target would: a translation cached in the target's
/// TLB is dropped, so a page-table change made without a local fence becomes visible. Run by a real S-mode
/// program on a hart whose ECALLs go to the <see cref="SbiServer"/>.
/// </summary>
public sealed class SbiRemoteFenceTests
{
    private const ulong Va = 0x4000_0000;
    private const ulong OldFrame = Data + 0x1000, NewFrame = Data + 0x2000;

    [Theory]
    [InlineData(0b1UL, 0UL)]             // hart 0 by mask
    [InlineData(0UL, ulong.MaxValue)]    // hart_mask_base = -1: every hart
    public void Remote_sfence_vma_drops_the_targets_cached_translation(ulong mask, ulong maskBase)
    {
        var sbi = new SbiServer(_ => { }, () => -1, _ => { });
        using var m = new RiscvTestMachine(
            $"""
                .text
                .globl _start
            _start:
                la t0, strap
                csrw stvec, t0
                li t0, SATP_SV39
                csrw satp, t0
                sfence.vma
                li s0, {Va}
                ld s1, 0(s0)            # caches VA -> old frame in the TLB
                li t0, DATA
                ld t1, 0(t0)            # the leaf PTE's address (from the host)
                ld t2, 8(t0)            # a PTE for the new frame
                sd t2, 0(t1)
                ld s2, 0(s0)            # no fence yet: the cached translation is still used
                li a7, 0x52464E43       # RFENCE
                li a6, 1                # remote_sfence_vma
                li a0, {mask}
                li a1, {(long)maskBase}
                li a2, 0
                li a3, 0                # start 0, size 0: the whole address space
                ecall
                mv s4, a0
                ld s3, 0(s0)            # through the new translation
                HALT
                .align 2
            strap:
                csrr s5, scause
                HALT
            """,
            firmware: sbi,
            withPrelude: false);
        sbi.AttachHarts([m.Hart]);
        m.Map(RamBase, RamBase, PteR | PteW | PteX | PteA | PteD, level: 2);
        m.Map(Va, OldFrame, PteR | PteW | PteA | PteD);
        m.Write64(Data, m.PteAddress(Va, 0));
        m.Write64(Data + 8, ((NewFrame >> 12) << 10) | PteV | PteR | PteW | PteA | PteD);
        m.Write64(OldFrame, 0x01D);
        m.Write64(NewFrame, 0x2E3);

        m.Run();

        Assert.Null(m.Hart.FatalError);
        Assert.Equal(0UL, m.X("s5")); // no trap
        Assert.Equal(0x01DUL, m.X("s1"));
        Assert.Equal(0x01DUL, m.X("s2")); // proves the TLB held the old translation
        Assert.Equal(0UL, m.X("s4"));     // SBI_SUCCESS
        Assert.Equal(0x2E3UL, m.X("s3"));
    }
}
