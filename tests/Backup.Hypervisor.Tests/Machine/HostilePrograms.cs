using Backup.TestSupport;

namespace Backup.Hypervisor.Tests.Machine;

/// <summary>Bare-metal programs (ELF paths) that misbehave on purpose, for the isolation and host-fault tests.</summary>
public static class HostilePrograms
{
    /// <summary>Interrupts the storm lasts before the program points its trap vector at nothing.</summary>
    public const int StormLength = 200_000;

    /// <summary>
    /// Against the virtio-blk disk: DMA aimed at the UART's registers, a buffer running off the end of 16 MiB of
    /// RAM, a buffer wrapping around the address space (each must complete with IOERR), then a descriptor chain
    /// that loops (the device must enter DEVICE_NEEDS_RESET); then an interrupt storm from the device's line that
    /// it never acknowledges; finally an illegal instruction with mtvec at 0x40000000, where nothing is. HTIF exit
    /// codes 2-7 say which expectation failed, 100+ an unexpected trap before the storm.
    /// </summary>
    public static string WildDmaStormAndNowhereToTrap() => RiscvAssembler.AssembleElf($"""
            .section .text
            .globl _start
        _start:
            la t0, unexpected
            csrw mtvec, t0
        {BareMetalVirtio.Init}
            li a0, 0x10000000           # 1. DMA aimed at the UART's registers
            li a1, 512
            li a2, 0
            call submit
            li t0, 1                    # VIRTIO_BLK_S_IOERR
            li a7, 3
            bne a0, t0, fail
            li a0, 0x80ffff00           # 2. a write whose buffer runs off the end of RAM
            li a1, 512
            li a2, 1
            call submit
            li t0, 1
            li a7, 4
            bne a0, t0, fail
            li a0, -256                 # 3. a buffer whose end wraps around the address space
            li a1, 512
            li a2, 0
            call submit
            li t0, 1
            li a7, 5
            bne a0, t0, fail
            li t0, 0x{BareMetalVirtio.Used:x} # all three came back on the used ring
            lhu t1, 2(t0)
            li t2, 3
            li a7, 6
            bne t1, t2, fail
            li t1, 0x{BareMetalVirtio.Descriptors:x} # 4. a chain that loops: descriptor 0 names itself next
            li t2, 1
            sh t2, 12(t1)
            sh zero, 14(t1)
            call publish
            lw t0, 0x70(s1)
            andi t0, t0, 0x40           # DEVICE_NEEDS_RESET
            li a7, 7
            beqz t0, fail
            la t0, storm                # 5. an interrupt storm
            csrw mtvec, t0
            li t0, 0x0c000004
            li t1, 1
            sw t1, 0(t0)                # PLIC source 1 (virtio slot 0): priority 1
            li t0, 0x0c002000
            li t1, 2
            sw t1, 0(t0)                # enabled for hart 0's M mode
            li t0, 0x0c200000
            sw zero, 0(t0)              # threshold 0
            li t0, 0x800
            csrw mie, t0                # MEIE
            li s3, 0
            csrsi mstatus, 8            # MIE
        1:  j 1b
            .align 2
        storm:
            li t0, 0x0c200004
            lw t1, 0(t0)                # claim
            sw t1, 0(t0)                # complete without acknowledging the device: its line stays high
            addi s3, s3, 1
            li t0, {StormLength}
            bltu s3, t0, 2f
            li t0, 0x40000000           # 6. a trap vector with nothing behind it
            csrw mtvec, t0
            .word 0
        2:  mret
            .align 2
        unexpected:
            csrr a7, mcause
            addi a7, a7, 100
            j fail
        {BareMetalVirtio.Subroutines}
        {BareMetalVirtio.Epilogue}
        """);

    /// <summary>
    /// Reads sector 0 of the virtio-blk disk; passes (HTIF 1) when the device then says DEVICE_NEEDS_RESET (what a
    /// backend that throws something unexpected must lead to), fails with 8 when it does not.
    /// </summary>
    public static string ReadExpectingDeviceNeedsReset() => RiscvAssembler.AssembleElf($"""
            .section .text
            .globl _start
        _start:
        {BareMetalVirtio.Init}
            li a0, 0x{BareMetalVirtio.Buffer:x}
            li a1, 512
            li a2, 0
            call submit
            lw t0, 0x70(s1)
            andi t0, t0, 0x40           # DEVICE_NEEDS_RESET
            li a7, 8
            beqz t0, fail
            la t0, tohost
            li t1, 1
            sd t1, 0(t0)
        1:  j 1b
        {BareMetalVirtio.Subroutines}
        {BareMetalVirtio.Epilogue}
        """);

    /// <summary>Writes 'x' to the UART forever.</summary>
    public static string ConsoleChatter() => RiscvAssembler.AssembleElf($"""
            .section .text
            .globl _start
        _start:
            li s0, 0x10000000
            li t0, 120
        1:  sb t0, 0(s0)
            j 1b
        {BareMetalVirtio.Epilogue}
        """);

    /// <summary>Passes at once (HTIF 1).</summary>
    public static string Pass() => RiscvAssembler.AssembleElf($"""
            .section .text
            .globl _start
        _start:
            la t0, tohost
            li t1, 1
            sd t1, 0(t0)
        1:  j 1b
        {BareMetalVirtio.Epilogue}
        """);
}
