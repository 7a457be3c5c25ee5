using Backup.Hypervisor.Translation;
using Backup.Hypervisor.Cpu;

namespace Backup.Hypervisor.Tests.Cpu;

/// <summary>Synchronous exceptions: causes, mepc/mtval, mstatus stacking, MRET/SRET (privileged spec 3.1.15-3.1.17, 3.3.2).</summary>
public class TrapTests
{
    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Instruction_address_misaligned_cannot_happen_with_c(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        // With C, IALIGN = 16: JALR clears bit 0 and every branch/jump offset is a multiple of 2, so a jump to an
        // odd address lands on the even address and a 2-aligned target is legal. Cause 0 is unreachable.
        using var m = new RiscvTestMachine("""
                la t0, m_trap_log
                csrw mtvec, t0
                li a0, 0
                la t0, 1f
                jalr x0, 1(t0)
                li a0, 99
            1:  addi a0, a0, 1
                la t0, 2f
                addi t0, t0, 2
                jr t0
            2:  .option push
                .option norvc
                .2byte 0x0001           # c.nop, so that 2f + 2 is a compressed instruction boundary
                .option pop
                addi a0, a0, 2
                HALT
            """);
        m.Run();
        Assert.Empty(m.MTraps);
        Assert.Equal(3UL, m.X("a0"));
    }

    public static TheoryData<ulong> FetchFaultAddresses => new()
    {
        RiscvTestMachine.Unmapped, 0, RiscvTestMachine.RamBase + RiscvTestMachine.RamSize, RiscvTestMachine.MmioBase,
    };

    [Theory]
    [MemberData(nameof(ExecutionModes.Cross), typeof(TrapTests), nameof(FetchFaultAddresses), MemberType = typeof(ExecutionModes))]
    public void Instruction_access_fault(ulong target, ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine($"""
                la t0, m_trap_log
                csrw mtvec, t0
                la t0, 1f
                li t1, M_RESUME
                sd t0, 0(t1)
                li t0, {target}
                jalr ra, 0(t0)
            2:  li a0, 99
            1:  la s0, 2b
                HALT
            """);
        m.Run();
        var trap = Assert.Single(m.MTraps);
        Assert.Equal(TrapCause.InstructionAccessFault, trap.Cause);
        Assert.Equal(target, trap.Epc);
        Assert.Equal(target, trap.Tval);
        Assert.Equal(m.X("s0"), m.X("ra")); // the jump itself retired and linked
        Assert.NotEqual(99UL, m.X("a0"));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Illegal_instructions_report_their_bits_in_mtval(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine("""
                la t0, m_trap_log
                csrw mtvec, t0
            i0: .word 0xffffffff            # reserved (>= 80-bit) encoding space
            i1: .word 0x0000000b            # custom-0
            i2: .word 0x00003007            # fld (no D)
            i3: .word 0x02000057            # vector (no V)
            i4: .word 0x0205951b            # slliw with shamt[5] = 1 (reserved)
            i5: .word 0x0405d513            # srli with funct6 = 000001
            i6: .word 0x0000a063            # branch funct3 = 2
            i7: .word 0x00007003            # load funct3 = 7
            i8: .word 0x00004023            # store funct3 = 4
            i9: .word 0x00001067            # jalr funct3 = 1
            iA: .2byte 0x0000               # all-zero 16-bit: defined illegal
            iB: .2byte 0x0004               # c.addi4spn with nzuimm = 0 (reserved)
            iC: .2byte 0x6101               # c.addi16sp with nzimm = 0 (reserved)
            iD: .2byte 0x6081               # c.lui with nzimm = 0 (reserved)
            iE: .2byte 0x4002               # c.lwsp rd = 0 (reserved)
            iF: .2byte 0x8002               # c.jr rs1 = 0 (reserved)
            iG: .2byte 0x2001               # c.addiw rd = 0 (reserved)
            iH: .2byte 0x2000               # c.fld (no D)
            iI: .2byte 0x9c41               # reserved CA encoding
            iJ: .word 0x00000073 | (0x105 << 20) | (1 << 7)   # wfi with rd != 0
            iK: .word 0x30200073 | (1 << 15)                  # mret with rs1 != 0
            iL: .word 0x100102af            # lr.w with rs2 != 0
            iM: .word 0x0000c02f            # AMO funct3 = 4
            iN: .word 0x3000302f            # AMO funct5 = 00110 (reserved), rs1 = x0 (address 0 is unmapped)
                HALT
            """);
        m.Run();
        uint[] bits = [0xffffffff, 0x0000000b, 0x00003007, 0x02000057, 0x0205951b, 0x0405d513, 0x0000a063, 0x00007003, 0x00004023, 0x00001067,
            0x0000, 0x0004, 0x6101, 0x6081, 0x4002, 0x8002, 0x2001, 0x2000, 0x9c41, 0x10500073 | (1 << 7), 0x30200073 | (1 << 15), 0x100102af, 0x0000c02f, 0x3000302f];
        Assert.Equal(bits.Length, m.MTraps.Count);
        for (int i = 0; i < bits.Length; i++)
        {
            Assert.True(m.MTraps[i].Cause == TrapCause.IllegalInstruction && m.MTraps[i].Tval == bits[i], $"#{i}: expected illegal with tval 0x{bits[i]:x}, got {m.MTraps[i]}");
        }

        // epc advances by 4 for 32-bit and by 2 for 16-bit encodings.
        ulong epc0 = m.MTraps[0].Epc;
        Assert.Equal(epc0 + 40, m.MTraps[10].Epc);
        Assert.Equal(epc0 + 40 + 18, m.MTraps[19].Epc);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Breakpoint_sets_mtval_to_pc_for_ebreak_and_c_ebreak(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine("""
                la t0, m_trap_log
                csrw mtvec, t0
            b0: ebreak
            b1: c.ebreak
                la s0, b0
                la s1, b1
                HALT
            """);
        m.Run();
        Assert.Equal(2, m.MTraps.Count);
        Assert.All(m.MTraps, t => Assert.Equal(TrapCause.Breakpoint, t.Cause));
        Assert.Equal([m.X("s0"), m.X("s1")], m.MTraps.Select(t => t.Epc));
        Assert.Equal([m.X("s0"), m.X("s1")], m.MTraps.Select(t => t.Tval));
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Load_and_store_access_faults_and_mmio_holes(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine("""
                la t0, m_trap_log
                csrw mtvec, t0
                li a1, UNMAPPED
                ld a0, 0(a1)                # 5
                sd a0, 8(a1)                # 7
                lbu a0, 3(a1)               # 5
                li a1, 0x80400000           # just past the end of RAM
                lw a0, 0(a1)                # 5
                sh a0, 0(a1)                # 7
                li a1, 0x803ffffc           # last word of RAM: an 8-byte load runs past the end
                ld a0, 0(a1)                # 5
                li a1, MMIO + 0x1000        # hole right after the device window
                lw a0, 0(a1)                # 5
                li a1, MMIO
                ld s0, 0x10(a1)             # device read works
                sw s0, 0x20(a1)             # device write works
                lw s1, 0x11(a1)             # misaligned MMIO: access fault in this implementation
                li a1, 0
                ld a0, 0(a1)                # 5
                HALT
            """);
        m.Run();
        ulong lf = TrapCause.LoadAccessFault, sf = TrapCause.StoreAccessFault;
        Assert.Equal([lf, sf, lf, lf, sf, lf, lf, lf, lf], m.MTraps.Select(t => t.Cause));
        Assert.Equal(
            [RiscvTestMachine.Unmapped, RiscvTestMachine.Unmapped + 8, RiscvTestMachine.Unmapped + 3, 0x8040_0000UL, 0x8040_0000UL],
            m.MTraps.Take(5).Select(t => t.Tval));
        Assert.InRange(m.MTraps[5].Tval, 0x803F_FFFCUL, 0x8040_0000UL);
        Assert.Equal(RiscvTestMachine.MmioBase + 0x1000, m.MTraps[6].Tval);
        Assert.Equal(RiscvTestMachine.MmioBase + 0x11, m.MTraps[7].Tval);
        Assert.Equal(0UL, m.MTraps[8].Tval);
        Assert.Equal(0x1122_3344_5566_7788UL + 0x10, m.X("s0"));
        Assert.Contains(m.Device.Writes, w => w.Offset == 0x20 && w.Size == 4 && (uint)w.Value == 0x5566_7798U);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Environment_calls_from_each_mode(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine("""
                la t0, m_trap_log
                csrw mtvec, t0
            e0: ecall
                ENTER_S smode
            smode:
            e1: ecall
                li t0, MSTATUS_SPP
                csrc sstatus, t0
                la t0, umode
                csrw sepc, t0
                sret
            umode:
            e2: ecall
                la s0, e0
                la s1, e1
                la s2, e2
                HALT
            """);
        m.Run();
        Assert.Equal([TrapCause.EnvironmentCallFromM, TrapCause.EnvironmentCallFromS, TrapCause.EnvironmentCallFromU], m.MTraps.Select(t => t.Cause));
        Assert.Equal([m.X("s0"), m.X("s1"), m.X("s2")], m.MTraps.Select(t => t.Epc));
        Assert.All(m.MTraps, t => Assert.Equal(0UL, t.Tval));
        Assert.Equal([3UL, 1UL, 0UL], m.MTraps.Select(t => (t.Status >> 11) & 3));
        Assert.Equal(PrivilegeMode.User, m.Hart.Mode);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Trap_entry_stacks_mie_and_mret_restores_it(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine("""
                la t0, handler
                csrw mtvec, t0
                csrsi mstatus, MSTATUS_MIE
                ecall
                csrr s2, mstatus            # after mret: MIE restored from MPIE, MPIE = 1, MPP = U
                HALT
                .align 2
            handler:
                csrr s0, mstatus            # in handler: MIE = 0, MPIE = 1, MPP = M
                csrr s1, mepc
                addi s1, s1, 4
                csrw mepc, s1
                li t0, MSTATUS_MPP
                csrs mstatus, t0            # return to M
                mret
            """);
        m.Run();
        ulong inHandler = m.X("s0"), after = m.X("s2");
        Assert.Equal(0UL, inHandler & (1 << 3));
        Assert.Equal(1UL << 7, inHandler & (1 << 7));
        Assert.Equal(3UL, (inHandler >> 11) & 3);
        Assert.Equal(1UL << 3, after & (1 << 3));
        Assert.Equal(1UL << 7, after & (1 << 7));
        Assert.Equal(0UL, (after >> 11) & 3);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Mret_semantics_mie_from_mpie_and_mode_from_mpp(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine("""
                la t0, m_trap_log
                csrw mtvec, t0
                # MPP = M, MPIE = 0, MIE = 1, MPRV = 1: mret to M keeps MPRV, MIE <- 0
                li t0, MSTATUS_MPP | MSTATUS_MIE | MSTATUS_MPRV
                csrw mstatus, t0
                la t0, 1f
                csrw mepc, t0
                mret
            1:  csrr s0, mstatus
                # MPP = S, MPIE = 1, MPRV = 1: mret to S clears MPRV and sets MIE <- MPIE
                li t0, (1 << 11) | MSTATUS_MPIE | MSTATUS_MPRV
                csrw mstatus, t0
                la t0, 2f
                csrw mepc, t0
                mret
            2:  csrr s1, sstatus
                ecall
                HALT
            """);
        m.Run();
        ulong s0 = m.X("s0");
        Assert.Equal(0UL, s0 & (1 << 3));                 // MIE <- MPIE (0)
        Assert.Equal(1UL << 7, s0 & (1 << 7));            // MPIE <- 1
        Assert.Equal(0UL, (s0 >> 11) & 3);                // MPP <- U
        Assert.Equal(1UL << 17, s0 & (1 << 17));          // MPRV kept when returning to M
        var ecall = Assert.Single(m.MTraps);
        Assert.Equal(TrapCause.EnvironmentCallFromS, ecall.Cause);
        Assert.Equal(0UL, ecall.Status & (1 << 17));       // MPRV cleared by mret to S
        Assert.Equal(1UL << 7, ecall.Status & (1 << 7));  // MPIE <- MIE (was 1 after mret to S)
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Sret_semantics_sie_from_spie_and_mode_from_spp(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine("""
                la t0, m_trap_log
                csrw mtvec, t0
                ENTER_S smode
            smode:
                # SPP = S, SPIE = 1, SIE = 0 -> sret to S: SIE = 1, SPIE = 1, SPP = U
                li t0, MSTATUS_SPP | MSTATUS_SPIE
                csrs sstatus, t0
                csrci sstatus, MSTATUS_SIE
                la t0, 1f
                csrw sepc, t0
                sret
            1:  csrr s0, sstatus
                # SPP = U, SPIE = 0 -> sret to U: SIE = 0
                li t0, MSTATUS_SPP | MSTATUS_SPIE
                csrc sstatus, t0
                la t0, 2f
                csrw sepc, t0
                sret
            2:  ecall
                HALT
            """);
        m.Run();
        ulong s0 = m.X("s0");
        Assert.Equal(1UL << 1, s0 & (1 << 1));
        Assert.Equal(1UL << 5, s0 & (1 << 5));
        Assert.Equal(0UL, s0 & (1 << 8));
        var ecall = Assert.Single(m.MTraps);
        Assert.Equal(TrapCause.EnvironmentCallFromU, ecall.Cause);
        Assert.Equal(0UL, ecall.Status & (1 << 1));       // SIE <- SPIE (0)
        Assert.Equal(1UL << 5, ecall.Status & (1 << 5));  // SPIE <- 1
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Sret_is_legal_in_machine_mode(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine("""
                la t0, m_trap_log
                csrw mtvec, t0
                li t0, MSTATUS_SPP
                csrs mstatus, t0
                la t0, 1f
                csrw sepc, t0
                sret
            1:  ecall
                HALT
            """);
        m.Run();
        Assert.Equal(TrapCause.EnvironmentCallFromS, Assert.Single(m.MTraps).Cause);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Trap_inside_a_machine_handler_sets_mpp_to_machine(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        // A handler that itself traps (ebreak inside the handler) re-enters mtvec with MPP = M.
        using var m = new RiscvTestMachine("""
                la t0, outer
                csrw mtvec, t0
                ENTER_S smode
            smode:
                ecall
                HALT
                .align 2
            outer:
                csrr s0, mcause
                csrr s1, mstatus
                la t0, inner
                csrw mtvec, t0
                ebreak
                HALT
                .align 2
            inner:
                csrr s2, mcause
                csrr s3, mstatus
                csrr s4, mepc
                HALT
            """);
        m.Run();
        Assert.Equal(TrapCause.EnvironmentCallFromS, m.X("s0"));
        Assert.Equal(1UL, (m.X("s1") >> 11) & 3);
        Assert.Equal(TrapCause.Breakpoint, m.X("s2"));
        Assert.Equal(3UL, (m.X("s3") >> 11) & 3);
    }
}
