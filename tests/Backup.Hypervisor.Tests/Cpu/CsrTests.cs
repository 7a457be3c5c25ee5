using Backup.Hypervisor.Translation;
using Backup.Hypervisor.Cpu;

namespace Backup.Hypervisor.Tests.Cpu;

/// <summary>Zicsr instructions and CSR access rules (unprivileged "Zicsr" chapter, privileged spec 2.1/2.3).</summary>
public class CsrTests
{
    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void All_six_csr_forms(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        CaseTable.Check(
        [
            new("csrrw returns old", "li a1, 0x1234; csrw mscratch, a1; li a2, 0x55; csrrw a0, mscratch, a2", 0x1234),
            new("csrrw writes new", "li a2, 0x55; csrw mscratch, a2; csrr a0, mscratch", 0x55),
            new("csrrs returns old", "li a1, 0xF0; csrw mscratch, a1; li a2, 0x0F; csrrs a0, mscratch, a2", 0xF0),
            new("csrrs sets bits", "li a1, 0xF0; csrw mscratch, a1; li a2, 0x0F; csrrs x0, mscratch, a2; csrr a0, mscratch", 0xFF),
            new("csrrc returns old", "li a1, 0xFF; csrw mscratch, a1; li a2, 0x0F; csrrc a0, mscratch, a2", 0xFF),
            new("csrrc clears bits", "li a1, 0xFF; csrw mscratch, a1; li a2, 0x0F; csrrc x0, mscratch, a2; csrr a0, mscratch", 0xF0),
            new("csrrwi", "li a1, -1; csrw mscratch, a1; csrrwi a0, mscratch, 31; csrr a0, mscratch", 31),
            new("csrrwi returns old", "li a1, -1; csrw mscratch, a1; csrrwi a0, mscratch, 0", ulong.MaxValue),
            new("csrrsi", "li a1, 0x100; csrw mscratch, a1; csrrsi a0, mscratch, 0x11; csrr a0, mscratch", 0x111),
            new("csrrci", "li a1, 0x1F; csrw mscratch, a1; csrrci a0, mscratch, 0x11; csrr a0, mscratch", 0x0E),
            new("csrrci returns old", "li a1, 0x1F; csrw mscratch, a1; csrrci a0, mscratch, 0x11", 0x1F),
            new("csrrw rd == rs1", "li a0, 7; csrw mscratch, x0; csrrw a0, mscratch, a0; csrr a1, mscratch; slli a0, a0, 8; or a0, a0, a1", 7),
            new("64-bit value", "li a1, 0x8000000000000001; csrw mscratch, a1; csrr a0, mscratch", 0x8000_0000_0000_0001),
            new("sscratch independent", "li a1, 1; csrw mscratch, a1; li a1, 2; csrw sscratch, a1; csrr a0, mscratch", 1),
            new("mhartid", "csrr a0, mhartid", 0),
            new("misa", "csrr a0, misa", (2UL << 62) | (1 << 0) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8) | (1 << 12) | (1 << 18) | (1 << 20)),
            new("misa write ignored", "csrr a1, misa; csrw misa, x0; csrr a0, misa; sub a0, a0, a1", 0),
            new("mtvec vectored mode kept", "la a1, 1f; ori a1, a1, 1; csrw mtvec, a1; csrr a0, mtvec; andi a0, a0, 3; la a1, __unexpected_trap; csrw mtvec, a1; 1: nop", 1),
            new("mtvec reserved mode 2 not kept", "li a1, 0x80000102; csrw mtvec, a1; csrr a0, mtvec; andi a0, a0, 2; la a1, __unexpected_trap; csrw mtvec, a1", 0),
            new("mepc bit 0 is zero", "li a1, 0x80001235; csrw mepc, a1; csrr a0, mepc", 0x8000_1234),
            new("sepc bit 0 is zero", "li a1, 0x80001237; csrw sepc, a1; csrr a0, sepc", 0x8000_1236),
            new("mstatus MPP=2 is not kept", "li a1, 2 << 11; csrw mstatus, a1; csrr a0, mstatus; srli a0, a0, 11; andi a0, a0, 3; xori a0, a0, 2; snez a0, a0", 1),
            new("mstatus UXL/SXL = 64", "csrr a0, mstatus; srli a0, a0, 32; andi a0, a0, 15", 0xA),
            new("medeleg WARL: ecall-from-M not delegable", "li a1, -1; csrw medeleg, a1; csrr a0, medeleg; srli a0, a0, 11; andi a0, a0, 1", 0),
            new("medeleg common causes delegable", "li a1, -1; csrw medeleg, a1; csrr a0, medeleg; li a1, 0xB1FF; and a0, a0, a1; csrw medeleg, x0", 0xB1FF),
            new("mideleg WARL: only S interrupts", "li a1, -1; csrw mideleg, a1; csrr a0, mideleg; csrw mideleg, x0", 0x222),
            new("mie WARL", "li a1, -1; csrw mie, a1; csrr a0, mie; csrw mie, x0", 0xAAA),
            new("sstatus is a view of mstatus", "csrw mstatus, x0; li a1, MSTATUS_SIE | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_SPP; csrs sstatus, a1; csrr a0, mstatus; li a1, 0xFFFFF; and a0, a0, a1; csrw mstatus, x0", 0xC0102),
            new("sstatus hides M fields", "li a1, MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP | MSTATUS_TVM; csrw mstatus, a1; csrr a0, sstatus; and a0, a0, a1; csrw mstatus, x0", 0),
            new("sstatus write cannot set M fields", "csrw mstatus, x0; li a1, MSTATUS_MIE | MSTATUS_MPP | MSTATUS_TSR; csrw sstatus, a1; csrr a0, mstatus; and a0, a0, a1", 0),
            new("sie masked by mideleg", "li a1, 0x222; csrw mie, a1; csrw mideleg, x0; csrr a0, sie; csrw mie, x0", 0),
            new("sie shows delegated", "li a1, 0x2; csrw mideleg, a1; li a1, 0x222; csrw mie, a1; csrr a0, sie; csrw mie, x0; csrw mideleg, x0", 0x2),
            new("sie write only delegated", "li a1, 0x20; csrw mideleg, a1; csrw mie, x0; li a1, -1; csrw sie, a1; csrr a0, mie; csrw mie, x0; csrw mideleg, x0", 0x20),
            new("sip SSIP writable when delegated", "li a1, 2; csrw mideleg, a1; csrw mip, x0; csrsi sip, 2; csrr a0, mip; csrw mip, x0; csrw mideleg, x0", 2),
            new("sip SSIP read-only when not delegated", "csrw mideleg, x0; csrw mip, x0; csrsi sip, 2; csrr a0, mip", 0),
            new("satp bare write/read", "csrw satp, x0; csrr a0, satp", 0),
            new("unimplemented counters read zero", "csrr a0, hpmcounter3; csrr a1, mhpmcounter31; or a0, a0, a1", 0),
            new("pmp reads as zero", "li a1, -1; csrw pmpaddr0, a1; csrr a0, pmpaddr0", 0),
        ]);
    }

    public static TheoryData<string, uint> IllegalInMachineMode => new()
    {
        { "csrrw to read-only mhartid", 0xF1401073 },           // csrrw x0, mhartid, x0
        { "csrrwi 0 to read-only mvendorid", 0xF1105073 },      // csrrwi x0, mvendorid, 0
        { "csrrs with rs1 != x0 (value 0) to read-only cycle", 0xC005A573 },   // csrrs a0, cycle, a1
        { "csrrc with rs1 != x0 to read-only instret", 0xC025B573 },            // csrrc a0, instret, a1
        { "csrrsi nonzero to read-only time", 0xC010E573 },     // csrrsi a0, time, 1
        { "unknown csr 0x123", 0x12302573 },                    // csrr a0, 0x123
        { "unknown csr 0xFFF", 0xFFF02573 },                    // csrr a0, 0xFFF
        { "unknown csr written with rd=x0", 0x12359073 },       // csrw 0x123, a1
        { "hypervisor csr hstatus", 0x60002573 },               // csrr a0, hstatus
        { "mtinst (no H)", 0x34A02573 },                        // csrr a0, mtinst
        { "floating-point csr fcsr (no F)", 0x00302573 },       // csrr a0, fcsr
    };

    [Theory]
    [MemberData(nameof(ExecutionModes.Cross), typeof(CsrTests), nameof(IllegalInMachineMode), MemberType = typeof(ExecutionModes))]
    public void Illegal_csr_access_in_machine_mode(string name, uint instruction, ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine($"""
                la t0, m_trap_log
                csrw mtvec, t0
                li a0, 0x77
                li a1, 0
            at: .word 0x{instruction:x8}
                la s0, at
                HALT
            """);
        m.Run();
        var trap = Assert.Single(m.MTraps);
        Assert.True(trap.Cause == TrapCause.IllegalInstruction, name);
        Assert.Equal(m.X("s0"), trap.Epc);
        Assert.Equal(instruction, trap.Tval);
        Assert.Equal(0x77UL, m.X("a0")); // rd not written
    }

    public static TheoryData<string, uint> LegalReadsOfReadOnlyCsrs => new()
    {
        { "csrrs rs1=x0 of mhartid", 0xF1402573 },              // csrr a0, mhartid
        { "csrrc rs1=x0 of cycle", 0xC0003573 },                // csrrc a0, cycle, x0
        { "csrrsi 0 of time", 0xC0106573 },                     // csrrsi a0, time, 0
        { "csrrci 0 of instret", 0xC0207573 },                  // csrrci a0, instret, 0
        { "csrrs rs1=x0 of mimpid into x0", 0xF1302073 },       // csrr x0, mimpid
    };

    [Theory]
    [MemberData(nameof(ExecutionModes.Cross), typeof(CsrTests), nameof(LegalReadsOfReadOnlyCsrs), MemberType = typeof(ExecutionModes))]
    public void Reads_of_read_only_csrs_without_write_are_legal(string name, uint instruction, ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine($"""
                la t0, m_trap_log
                csrw mtvec, t0
                .word 0x{instruction:x8}
                HALT
            """);
        m.Run();
        Assert.True(m.MTraps.Count == 0, name + "\n" + m.Describe());
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Supervisor_and_user_privilege_checks(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        // Each probe runs in S-mode and then U-mode; traps are logged and skipped.
        using var m = new RiscvTestMachine("""
                la t0, m_trap_log
                csrw mtvec, t0
                ENTER_S smode
            smode:
                csrr a0, sstatus        # legal
                csrr a0, mstatus        # illegal (M-level CSR)
                csrw mscratch, a0       # illegal
                csrr a0, satp           # legal
                csrr a0, mhartid        # illegal
                mret                    # illegal in S
                csrw sscratch, a0       # legal
                li t0, MSTATUS_SPP
                csrc sstatus, t0
                la t0, umode
                csrw sepc, t0
                sret
            umode:
                csrr a0, sstatus        # illegal
                csrr a0, sscratch       # illegal
                sret                    # illegal in U
                mret                    # illegal in U
                wfi                     # illegal in U (S-mode implemented)
                sfence.vma              # illegal in U
                ecall
            """.Replace("ecall", "ecall\n    HALT", StringComparison.Ordinal));
        m.Run();
        var causes = m.MTraps.Select(t => t.Cause).ToArray();
        ulong ill = TrapCause.IllegalInstruction;
        Assert.Equal([ill, ill, ill, ill, ill, ill, ill, ill, ill, ill, TrapCause.EnvironmentCallFromU], causes);
        // MPP of each logged trap: S for the first four, U for the rest.
        Assert.All(m.MTraps.Take(4), t => Assert.Equal(1UL, (t.Status >> 11) & 3));
        Assert.All(m.MTraps.Skip(4), t => Assert.Equal(0UL, (t.Status >> 11) & 3));
        Assert.Equal(0x30200073UL, m.MTraps[3].Tval);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Trap_virtualization_bits_tvm_tw_tsr(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine("""
                la t0, m_trap_log
                csrw mtvec, t0
                li t0, MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR
                csrs mstatus, t0
                ENTER_S smode
            smode:
                csrr a0, satp           # illegal: TVM
                sfence.vma              # illegal: TVM
                wfi                     # illegal: TW
                la t0, 1f
                csrw sepc, t0
                sret                    # illegal: TSR
            1:  ecall
            """.Replace("1:  ecall", "1:  ecall\n    HALT", StringComparison.Ordinal));
        m.Run();
        ulong ill = TrapCause.IllegalInstruction;
        Assert.Equal([ill, ill, ill, ill, TrapCause.EnvironmentCallFromS], m.MTraps.Select(t => t.Cause));
        Assert.Equal([0x18002573UL, 0x12000073UL, 0x10500073UL, 0x10200073UL], m.MTraps.Take(4).Select(t => t.Tval));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Mip_seip_read_modify_write_uses_only_the_software_bit(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        // Privileged spec 3.1.9: csrr of mip returns SEIP = software bit OR external signal, but only the
        // software-writable bit takes part in the read-modify-write of CSRRS/CSRRC.
        using var m = new RiscvTestMachine("""
                csrsi mip, 2            # set SSIP while the external SEIP line is high
                li t0, DATA
                li t1, 1
                sd t1, 0(t0)
            1:  ld t1, 8(t0)
                beqz t1, 1b
                csrr a0, mip            # external line is low again now
                HALT
            """);
        m.Hart.SetInterruptPending(InterruptBits.SEIP, true);
        m.RunUntil(() => m.Read64(RiscvTestMachine.Data) == 1);
        m.Hart.SetInterruptPending(InterruptBits.SEIP, false);
        m.Write64(RiscvTestMachine.Data + 8, 1);
        m.Run();
        Assert.Equal(InterruptBits.SSIP, m.X("a0") & (InterruptBits.SSIP | InterruptBits.SEIP));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Mip_software_seip_is_ored_with_the_external_line(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine("""
                li t0, 1 << 9
                csrs mip, t0
                csrr s0, mip            # software bit set
                csrc mip, t0
                csrr s1, mip            # cleared
                li t0, DATA
                li t1, 1
                sd t1, 0(t0)
            1:  ld t1, 8(t0)
                beqz t1, 1b
                csrr s2, mip            # external line high
                li t0, 1 << 9
                csrc mip, t0            # clearing the software bit does not hide the line
                csrr s3, mip
                HALT
            """);
        m.RunUntil(() => m.Read64(RiscvTestMachine.Data) == 1);
        m.Hart.SetInterruptPending(InterruptBits.SEIP, true);
        m.Write64(RiscvTestMachine.Data + 8, 1);
        m.Run();
        Assert.Equal(InterruptBits.SEIP, m.X("s0") & InterruptBits.SEIP);
        Assert.Equal(0UL, m.X("s1") & InterruptBits.SEIP);
        Assert.Equal(InterruptBits.SEIP, m.X("s2") & InterruptBits.SEIP);
        Assert.Equal(InterruptBits.SEIP, m.X("s3") & InterruptBits.SEIP);
    }
}
