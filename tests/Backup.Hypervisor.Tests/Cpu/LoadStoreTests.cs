using Backup.Hypervisor.Translation;
namespace Backup.Hypervisor.Tests.Cpu;

/// <summary>Loads and stores of every width, sign/zero extension, misaligned accesses (unprivileged spec 2.6).</summary>
public class LoadStoreTests
{
    private const string Pattern = "li a1, DATA + 0x800; li a2, 0x8182838485868788; sd a2, 0(a1); li a2, 0x7172737475767778; sd a2, 8(a1)";

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Loads_extend_by_width(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        CaseTable.Check(
        [
            new("lb negative", Pattern + "; lb a0, 0(a1)", 0xFFFF_FFFF_FFFF_FF88),
            new("lb positive", Pattern + "; lb a0, 8(a1)", 0x78),
            new("lbu", Pattern + "; lbu a0, 0(a1)", 0x88),
            new("lh negative", Pattern + "; lh a0, 0(a1)", 0xFFFF_FFFF_FFFF_8788),
            new("lh positive", Pattern + "; lh a0, 8(a1)", 0x7778),
            new("lhu", Pattern + "; lhu a0, 0(a1)", 0x8788),
            new("lw negative", Pattern + "; lw a0, 4(a1)", 0xFFFF_FFFF_8182_8384),
            new("lw positive", Pattern + "; lw a0, 8(a1)", 0x7576_7778),
            new("lwu", Pattern + "; lwu a0, 4(a1)", 0x8182_8384),
            new("ld", Pattern + "; ld a0, 0(a1)", 0x8182_8384_8586_8788),
            new("negative offset", Pattern + "; addi a1, a1, 8; lbu a0, -1(a1)", 0x81),
            new("offset -2048", Pattern + "; addi a3, a1, 2047; addi a3, a3, 1; ld a0, -2048(a3)", 0x8182_8384_8586_8788),
            new("offset 2047", Pattern + "; addi a3, a1, -2047; lbu a0, 2047(a3)", 0x88),
            new("load into x0 is discarded", Pattern + "; ld x0, 0(a1); mv a0, x0", 0),
        ]);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Stores_write_only_their_width(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        const string Fill = "li a1, DATA + 0x900; li a2, -1; sd a2, 0(a1)";
        CaseTable.Check(
        [
            new("sb", Fill + "; li a2, 0x1234; sb a2, 1(a1); ld a0, 0(a1)", 0xFFFF_FFFF_FFFF_34FF),
            new("sh", Fill + "; li a2, 0x123456; sh a2, 2(a1); ld a0, 0(a1)", 0xFFFF_FFFF_3456_FFFF),
            new("sw", Fill + "; li a2, 0x1122334455667788; sw a2, 4(a1); ld a0, 0(a1)", 0x5566_7788_FFFF_FFFF),
            new("sd", Fill + "; li a2, 0x1122334455667788; sd a2, 0(a1); ld a0, 0(a1)", 0x1122_3344_5566_7788),
            new("negative store offset", Fill + "; addi a3, a1, 8; sb x0, -8(a3); ld a0, 0(a1)", 0xFFFF_FFFF_FFFF_FF00),
        ]);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Misaligned_loads_and_stores_work(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        const string Fill = "li a1, DATA + 0xA00; li a2, 0x0706050403020100; sd a2, 0(a1); li a2, 0x0f0e0d0c0b0a0908; sd a2, 8(a1)";
        CaseTable.Check(
        [
            new("ld +1", Fill + "; ld a0, 1(a1)", 0x0807_0605_0403_0201),
            new("ld +7", Fill + "; ld a0, 7(a1)", 0x0E0D_0C0B_0A09_0807),
            new("lw +3", Fill + "; lw a0, 3(a1)", 0x0605_0403),
            new("lh +1", Fill + "; lh a0, 1(a1)", 0x0201),
            new("lhu +7", Fill + "; lhu a0, 7(a1)", 0x0807),
            new("lw +3 sign", "li a1, DATA + 0xA40; li a2, 0x0080000000000000; sd a2, 0(a1); sd x0, 8(a1); lw a0, 3(a1)", 0xFFFF_FFFF_8000_0000),
            new("sd +3", Fill + "; li a2, 0xAABBCCDDEEFF1122; sd a2, 3(a1); ld a0, 0(a1)", 0xDDEE_FF11_2202_0100),
            new("sd +3 high part", Fill + "; li a2, 0xAABBCCDDEEFF1122; sd a2, 3(a1); ld a0, 8(a1)", 0x0F0E_0D0C_0BAA_BBCC),
            new("sw +1", Fill + "; li a2, 0x11223344; sw a2, 1(a1); lwu a0, 0(a1)", 0x2233_4400),
            new("sh +5", Fill + "; li a2, 0xBEEF; sh a2, 5(a1); ld a0, 0(a1)", 0x07BE_EF04_0302_0100),
        ]);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Misaligned_accesses_across_a_page_boundary_work(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        // DATA + 0x1000 is a page boundary; each access straddles it.
        using var m = new RiscvTestMachine("""
                li a1, DATA + 0x1000
                li a2, 0x1122334455667788
                sd a2, -3(a1)
                ld s0, -3(a1)
                lw s1, -2(a1)
                lhu s2, -1(a1)
                li a2, 0xA1A2A3A4
                sw a2, -1(a1)
                ld s3, -8(a1)
                ld s4, 0(a1)
                li a2, 0xCAFE
                li a3, DATA + 0x1FFF
                sh a2, 0(a3)
                lh s5, 0(a3)
                HALT
            """);
        m.Run();
        Assert.Equal(0x1122334455667788UL, m.X("s0"));
        Assert.Equal(0x4455_6677UL, m.X("s1"));
        Assert.Equal(0x5566UL, m.X("s2"));
        Assert.Equal(0xA477_8800_0000_0000UL, m.X("s3"));
        Assert.Equal(0x0000_0011_22A1_A2A3UL, m.X("s4"));
        Assert.Equal(0xFFFF_FFFF_FFFF_CAFEUL, m.X("s5"));
        Assert.Equal(0xFEUL, m.Read8(RiscvTestMachine.Data + 0x1FFF));
        Assert.Equal(0xCAUL, m.Read8(RiscvTestMachine.Data + 0x2000));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Fence_variants_execute_as_no_ops(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        CaseTable.Check(
        [
            new("fence", "li a0, 1; fence; fence rw, rw; fence r, r; fence iorw, iorw; fence.tso; addi a0, a0, 1", 2),
            new("fence.i", "li a0, 3; fence.i; addi a0, a0, 1", 4),
        ]);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Fence_i_makes_stores_to_code_visible_to_fetch(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        // Patches "li a0, 1" (addi a0, x0, 1) into "addi a0, x0, 42", executes it, patches again, executes again.
        using var m = new RiscvTestMachine("""
                .option push
                .option norvc
                la a1, patch
                li a2, 0x02a00513
                sw a2, 0(a1)
                fence.i
                jal ra, patch
                mv s0, a0
                li a2, 0x06400513
                sw a2, 0(a1)
                fence.i
                jal ra, patch
                mv s1, a0
                HALT
            patch:
                li a0, 1
                ret
                .option pop
            """);
        m.Run();
        Assert.Equal(42UL, m.X("s0"));
        Assert.Equal(100UL, m.X("s1"));
    }
}
