using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Tests.Support;
using Backup.Hypervisor.Timing;
using Backup.TestSupport;

namespace Backup.Hypervisor.Tests.Machine;

/// <summary>
/// The CLINT as M-mode firmware (OpenSBI) uses it, on the whole machine: a hart in WFI with only MTIE enabled wakes
/// when mtime reaches its mtimecmp (the machine skips idle time to the deadline) and takes the M-mode timer
/// interrupt; hart 0 wakes hart 1 from WFI by writing its msip (an IPI) and hart 1 takes the M-mode software
/// interrupt and clears it.
/// </summary>
public sealed class ClintMachineModeTests
{
    [Fact]
    public void Mtimecmp_wakes_a_waiting_hart_and_msip_interrupts_another()
    {
        string elf = RiscvAssembler.AssembleElf("""
                .equ CLINT, 0x2000000
                .section .text
                .globl _start
            _start:
                la t0, handler
                csrw mtvec, t0
                csrr a0, mhartid
                bnez a0, secondary
                li s0, CLINT + 0xBFF8
                ld s1, 0(s0)                # mtime
                li t0, 50000
                add s1, s1, t0
                li s2, CLINT + 0x4000
                sd s1, 0(s2)                # mtimecmp0 = now + 5 ms
                li t0, 1 << 7
                csrw mie, t0                # MTIE only; MIE stays clear: WFI wakes, no trap until enabled
            1:  wfi
                csrr t0, mip
                andi t0, t0, 1 << 7
                beqz t0, 1b
                ld s3, 0(s0)
                bltu s3, s1, fail           # woke before the deadline
                csrsi mstatus, 8            # MIE: the pending MTIP traps now
                li t0, 1
                bne s4, t0, fail            # the handler counted it
                li t0, CLINT + 4
                li t1, 1
                sw t1, 0(t0)                # msip1: wake hart 1
                la t2, flag
            2:  ld t1, 0(t2)
                beqz t1, 2b
                li t0, 1
                j exit
            fail:
                li t0, 3
            exit:
                la t1, tohost
                sd t0, 0(t1)
            3:  j 3b

            secondary:
                li t0, 1 << 3
                csrw mie, t0                # MSIE
                csrsi mstatus, 8
            4:  wfi
                j 4b

                .align 2
            handler:
                csrr t0, mcause
                li t1, (1 << 63) | 7
                beq t0, t1, timer
                li t1, (1 << 63) | 3
                bne t0, t1, fail
                li t0, CLINT + 4
                sw zero, 0(t0)              # clear msip1
                la t0, flag
                li t1, 1
                sd t1, 0(t0)
                mret
            timer:
                addi s4, s4, 1
                li t0, -1
                sd t0, 0(s2)                # mtimecmp0 = never: MTIP drops
                mret

                .section .data
                .align 3
            flag: .dword 0
                .align 6
                .globl tohost
            tohost: .dword 0
                .align 6
                .globl fromhost
            fromhost: .dword 0
            """);
        var console = new ConsoleCapture();
        using var vm = new VirtualMachine(new VmConfiguration
        {
            ElfPath = elf,
            MemorySize = 16UL << 20,
            CpuCount = 2,
            Clock = ClockMode.Deterministic,
            InstructionLimit = 10_000_000,
        }, console.Write);
        var exit = vm.Run();
        Assert.True(exit.Kind == VmExitKind.HtifExit && exit.ExitCode == 0, exit.ToString());
        Assert.True(vm.Clock.Now >= 50000, $"time {vm.Clock.Now}: the timer fired early");
    }
}
