using Backup.Hypervisor.Translation;
using Backup.Hypervisor.Cpu;

namespace Backup.Hypervisor.Tests.Cpu;

/// <summary>Host-served SBI: ECALL from S-mode goes to <see cref="ISupervisorCallHandler"/>; ECALL from U-mode traps to S.</summary>
public class FirmwareTests
{
    private sealed class RecordingFirmware : ISupervisorCallHandler
    {
        public List<(ulong Pc, PrivilegeMode Mode, ulong A7, ulong A6, ulong A0)> Calls { get; } = [];

        public void HandleSupervisorCall(Hart hart)
        {
            Calls.Add((hart.Pc, hart.Mode, hart.GetRegister(17), hart.GetRegister(16), hart.GetRegister(10)));
            hart.SetRegister(10, hart.GetRegister(10) * 2);
            hart.SetRegister(11, 0xF00D);
        }
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Supervisor_ecall_is_served_by_the_host_and_user_ecall_traps_to_s(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        var firmware = new RecordingFirmware();
        using var m = new RiscvTestMachine(
            """
                .text
                .globl _start
            _start:
                la t0, strap
                csrw stvec, t0
                li a7, 0x10
                li a6, 3
                li a0, 21
            e1: ecall
                mv s0, a0
                mv s1, a1
                li a0, 5
                ecall
                mv s5, a0
                la s4, e1
                li t0, MSTATUS_SPP
                csrc sstatus, t0
                la t0, umode
                csrw sepc, t0
                sret
            umode:
            e2: ecall
                j umode
                .align 2
            strap:
                csrr s2, scause
                csrr s3, sepc
                la s6, e2
                HALT
            """,
            firmware: firmware,
            withPrelude: false);
        m.Run();
        Assert.Null(m.Hart.FatalError);
        Assert.Equal(2, firmware.Calls.Count);
        Assert.Equal((m.X("s4"), PrivilegeMode.Supervisor, 0x10UL, 3UL, 21UL), firmware.Calls[0]);
        Assert.Equal(42UL, m.X("s0"));
        Assert.Equal(0xF00DUL, m.X("s1"));
        Assert.Equal(10UL, m.X("s5"));
        Assert.Equal(TrapCause.EnvironmentCallFromU, m.X("s2"));
        Assert.Equal(m.X("s6"), m.X("s3"));
        Assert.Equal(PrivilegeMode.Supervisor, m.Hart.Mode);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Host_firmware_configuration_delegates_everything_but_supervisor_ecall(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        var firmware = new RecordingFirmware();
        using var m = new RiscvTestMachine(
            """
                .text
                .globl _start
            _start:
                la t0, strap
                csrw stvec, t0
                csrr s0, time               # mcounteren allows it
                csrr s1, cycle
                li t0, -1
                csrw stimecmp, t0           # Sstc enabled by the host
                csrw stimecmp, x0           # pending now
                li t0, 1 << 5
                csrs sie, t0
                csrsi sstatus, MSTATUS_SIE
                nop
                li s2, 99                   # not reached
                HALT
                .align 2
            strap:
                bnez s4, 1f
                li s4, 1
                csrr s3, scause
                .2byte 0                    # illegal: delegated to S (would be fatal if it went to M)
            1:  csrr s5, scause
                HALT
            """,
            firmware: firmware,
            withPrelude: false);
        m.Run(5000);
        Assert.Null(m.Hart.FatalError);
        Assert.Equal(TrapCause.InterruptFlag | TrapCause.SupervisorTimerInterrupt, m.X("s3"));
        Assert.Equal(TrapCause.IllegalInstruction, m.X("s5"));
        Assert.NotEqual(99UL, m.X("s2"));
    }
}
