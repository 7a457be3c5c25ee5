using Backup.Hypervisor.Cpu;
using Backup.Hypervisor.Translation;
using static Backup.Hypervisor.Tests.Cpu.FloatAsm;

namespace Backup.Hypervisor.Tests.Cpu;

/// <summary>
/// The FP state around the arithmetic: mstatus.FS (Off makes FP instructions and fcsr illegal, changes set Dirty
/// and SD), misa, loads and stores (NaN-boxing, the compressed forms), reserved rounding modes.
/// </summary>
public class FloatStateTests
{
    private const ulong IllegalInstruction = 2;
    private const ulong FsMask = 3UL << 13, SdBit = 1UL << 63;

    [Fact]
    public void Misa_reports_f_and_d()
    {
        Assert.Equal((1UL << 3) | (1UL << 5), Hart.MisaValue & ((1UL << 3) | (1UL << 5)));
        using var m = new RiscvTestMachine("csrr a0, misa\n HALT");
        m.Run();
        Assert.Equal(Hart.MisaValue, m.X("a0"));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void With_fs_off_every_fp_instruction_and_fcsr_access_is_illegal(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine("""
                la t0, m_trap_log
                csrw mtvec, t0
            1:  fadd.d fa0, fa1, fa2
            2:  fld fa0, 0(sp)
            3:  csrr a0, fcsr
            4:  csrwi fflags, 1
            5:  fmv.x.d a0, fa0
            6:  c.fldsp fa0, 8(sp)
            7:  fmadd.s fa0, fa1, fa2, fa3
                la s1, 1b
                la s2, 6b
                HALT
            """);
        m.Run();
        var traps = m.MTraps;
        Assert.Equal(7, traps.Count);
        Assert.All(traps, t => Assert.Equal(IllegalInstruction, t.Cause));
        Assert.Equal(m.X("s1"), traps[0].Epc);
        Assert.Equal(0x02C5_F553UL, traps[0].Tval); // fadd.d fa0, fa1, fa2 (rm dyn)
        Assert.Equal(m.X("s2"), traps[5].Epc);
        Assert.Equal(0x2522UL, traps[5].Tval); // c.fldsp fa0, 8(sp): the 16-bit encoding, not its expansion
        Assert.Equal(0UL, m.Hart.FloatControl);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Fs_becomes_dirty_only_when_fp_state_changes(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine("""
                li t0, 0x2000          # FS = Initial
                csrs mstatus, t0
                fmv.x.d a0, fa0        # reads only
                feq.d a1, fa0, fa0     # +0 == +0, no flag raised
                csrr s1, mstatus
                fmv.d.x fa0, zero      # writes an FP register
                csrr s2, mstatus
                li t0, 0x6000
                csrc mstatus, t0
                li t0, 0x4000          # FS = Clean
                csrs mstatus, t0
                csrr s3, sstatus
                csrwi fflags, 0        # writing fcsr dirties too
                csrr s4, mstatus
                HALT
            """);
        m.Run();
        Assert.Equal(1UL << 13, m.X("s1") & FsMask);
        Assert.Equal(0UL, m.X("s1") & SdBit);
        Assert.Equal(FsMask, m.X("s2") & FsMask);
        Assert.Equal(SdBit, m.X("s2") & SdBit);
        Assert.Equal(2UL << 13, m.X("s3") & FsMask);
        Assert.Equal(0UL, m.X("s3") & SdBit);
        Assert.Equal(FsMask | SdBit, m.X("s4") & (FsMask | SdBit));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Loads_and_stores_including_compressed_forms(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        const string Data = "li s0, DATA + 0x800; li t0, 0x4000000000000000; sd t0, 0(s0); li t0, 0x3f800000; sw t0, 8(s0)";
        CaseTable.Check(
        [
            new("fld", $"{Data}; fld fa0, 0(s0); fmv.x.d a0, fa0", 0x4000_0000_0000_0000),
            new("flw NaN-boxes", $"{Data}; flw fa0, 8(s0); fmv.x.d a0, fa0", 0xFFFF_FFFF_3F80_0000),
            new("fsw stores the low word", $"{Data}; {D("fa1", 0x1234_5678_9ABC_DEF0)}; fsw fa1, 16(s0); lwu a0, 16(s0)", 0x9ABC_DEF0),
            new("fsd", $"{Data}; {D("fa1", 0x1234_5678_9ABC_DEF0)}; fsd fa1, 24(s0); ld a0, 24(s0)", 0x1234_5678_9ABC_DEF0),
            new("c.fld", $"{Data}; c.fld fa0, 0(s0); fmv.x.d a0, fa0", 0x4000_0000_0000_0000),
            new("c.fsd", $"{Data}; {D("fa1", 0x1111_2222_3333_4444)}; c.fsd fa1, 32(s0); ld a0, 32(s0)", 0x1111_2222_3333_4444),
            new("c.fldsp into f0", $"{Data}; mv t2, sp; mv sp, s0; c.fldsp f0, 0(sp); mv sp, t2; fmv.x.d a0, f0", 0x4000_0000_0000_0000),
            new("c.fsdsp", $"{Data}; {D("fa1", 0x5555_6666_7777_8888)}; mv t2, sp; mv sp, s0; c.fsdsp fa1, 40(sp); mv sp, t2; ld a0, 40(s0)", 0x5555_6666_7777_8888),
            new("misaligned fld", $"{Data}; sd zero, 48(s0); sd zero, 56(s0); li t0, -1; sw t0, 52(s0); fld fa0, 52(s0); fmv.x.d a0, fa0", 0x0000_0000_FFFF_FFFF),
            new("fmv.x.w sign-extends", $"{S("fa0", 0x8000_0000)}; fmv.x.w a0, fa0", 0xFFFF_FFFF_8000_0000),
        ], prologue: EnableFs);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Reserved_rounding_modes_are_illegal(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        // fadd.d fa0, fa1, fa2 with rm 5, rm 6; then dynamic rm with frm = 5 and frm = 7.
        const uint Rm5 = 0x02C5_D553, Rm6 = 0x02C5_E553, Dyn = 0x02C5_F553;
        using var m = new RiscvTestMachine($"""
                la t0, m_trap_log
                csrw mtvec, t0
                li t0, 0x2000
                csrs mstatus, t0
                .word {Rm5}
                .word {Rm6}
                fsrmi 5
                .word {Dyn}
                fsrmi 7
                .word {Dyn}
                fsrmi 0
                .word {Dyn}
                fsgnj.d fa0, fa1, fa1   # no rm field: f3 selects the operation
                fsrmi 5
                fsgnj.d fa0, fa1, fa1
                fsrmi 0
                HALT
            """);
        m.Run();
        var traps = m.MTraps;
        Assert.Equal(4, traps.Count);
        Assert.All(traps, t => Assert.Equal(IllegalInstruction, t.Cause));
        Assert.Equal([(ulong)Rm5, Rm6, Dyn, Dyn], traps.Select(t => t.Tval));
    }
}
