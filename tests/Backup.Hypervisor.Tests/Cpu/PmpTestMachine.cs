using System.Globalization;
using Backup.Hypervisor.Cpu;
using static Backup.Hypervisor.Tests.Cpu.RiscvTestMachine;

namespace Backup.Hypervisor.Tests.Cpu;

/// <summary>
/// The machine of the PMP tests (<see cref="PmpTests"/>, <see cref="PmpLockingTests"/>). Each test clears the
/// prelude's all-memory entry and grants S/U only the first MiB (the program, entry 15: RX) and the page RESUME_AT
/// writes (entry 14: RW), so whatever else it configures is all there is. Faults go to M-mode (m_trap_log: skip the
/// instruction or resume at M_RESUME); ECALL from S or U halts.
/// </summary>
internal static class PmpTestMachine
{
    public const ulong CodeEntryAddress = (RamBase + 0x8_0000 - 1) >> 2; // NAPOT, 1 MiB at RAM base
    public const ulong Fn = Data + 0x6000; // a small function: c.nop; addi a0, x0, 7; ret

    public static RiscvTestMachine Create(string setup, string body, PrivilegeMode mode = PrivilegeMode.Supervisor)
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

    public static string Napot(ulong address, ulong size) => $"0x{(address + (size / 2) - 1) >> 2:x}";

    public static string Hex(ulong value) => "0x" + value.ToString("x", CultureInfo.InvariantCulture);

    public static ulong[] Causes(RiscvTestMachine m) => [.. m.MTraps.Select(t => t.Cause)];

    public static ulong[] Tvals(RiscvTestMachine m) => [.. m.MTraps.Select(t => t.Tval)];

}

/// <summary>A host firmware for tests that make no supervisor calls.</summary>
internal sealed class NoFirmwareCalls : ISupervisorCallHandler
{
    public void HandleSupervisorCall(Hart hart) => throw new InvalidOperationException("no supervisor call was expected");
}
