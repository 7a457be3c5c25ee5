namespace Backup.Hypervisor.Tests.Machine;

/// <summary>
/// Assembly pieces for bare-metal programs that drive the first virtio-blk slot (0x10001000, PLIC source 1) the
/// way a driver does: <see cref="Init"/> negotiates VERSION_1 and sets up queue 0 with 8 entries at fixed
/// addresses in the first MiB above the program; <see cref="Submit"/> is a subroutine that queues one request
/// (a0: data buffer, a1: its length, a2: 0 = read / 1 = write, sector 0), notifies, and returns the status byte
/// in a0 (requests complete synchronously, during the notify). Programs keep s1 = the transport's base and put
/// their failure code in a7 before jumping to <c>fail</c> (HTIF exit with that code).
/// </summary>
public static class BareMetalVirtio
{
    public const ulong Descriptors = 0x8010_0000;
    public const ulong Available = 0x8010_1000;
    public const ulong Used = 0x8010_2000;
    public const ulong Header = 0x8010_3000;
    public const ulong StatusByte = 0x8010_3100;
    public const ulong Buffer = 0x8010_4000;

    /// <summary>Driver initialisation (VIRTIO_F_VERSION_1 only); fails with code 2 if FEATURES_OK does not stick.</summary>
    public static string Init => $"""
            li s1, 0x10001000
            sw zero, 0x70(s1)           # reset
            li t0, 1
            sw t0, 0x70(s1)             # ACKNOWLEDGE
            li t0, 3
            sw t0, 0x70(s1)             # DRIVER
            li t0, 1
            sw t0, 0x24(s1)             # DriverFeaturesSel = 1
            sw t0, 0x20(s1)             # feature bit 32: VIRTIO_F_VERSION_1
            sw zero, 0x24(s1)
            sw zero, 0x20(s1)
            li t0, 11
            sw t0, 0x70(s1)             # FEATURES_OK
            lw t1, 0x70(s1)
            andi t1, t1, 8
            li a7, 2
            beqz t1, fail
            sw zero, 0x30(s1)           # QueueSel = 0
            li t0, 8
            sw t0, 0x38(s1)             # QueueNum = 8
            li t0, 0x{Descriptors:x}
            sw t0, 0x80(s1)
            sw zero, 0x84(s1)
            li t0, 0x{Available:x}
            sw t0, 0x90(s1)
            sw zero, 0x94(s1)
            li t0, 0x{Used:x}
            sw t0, 0xa0(s1)
            sw zero, 0xa4(s1)
            li t0, 1
            sw t0, 0x44(s1)             # QueueReady
            li t0, 15
            sw t0, 0x70(s1)             # DRIVER_OK
        """;

    /// <summary>The request subroutine (<c>submit</c>) and the HTIF failure exit (<c>fail</c>: code in a7).</summary>
    public static string Subroutines => $"""
        submit:
            li t0, 0x{Header:x}
            sw a2, 0(t0)                # type
            sw zero, 4(t0)
            sd zero, 8(t0)              # sector 0
            li t1, 0x{Descriptors:x}
            sd t0, 0(t1)                # descriptor 0: the header
            li t2, 16
            sw t2, 8(t1)
            li t2, 1                    # NEXT
            sh t2, 12(t1)
            sh t2, 14(t1)               # next = 1
            sd a0, 16(t1)               # descriptor 1: the data
            sw a1, 24(t1)
            li t2, 3                    # NEXT | WRITE (the device writes a read's data)
            beqz a2, 1f
            li t2, 1                    # NEXT (the device reads a write's data)
        1:  sh t2, 28(t1)
            li t2, 2
            sh t2, 30(t1)               # next = 2
            li t2, 0x{StatusByte:x}
            li t3, 0xff
            sb t3, 0(t2)                # poison: the device must overwrite it
            sd t2, 32(t1)               # descriptor 2: the status byte
            li t3, 1
            sw t3, 40(t1)
            li t3, 2                    # WRITE
            sh t3, 44(t1)
            sh zero, 46(t1)
        publish:
            li t1, 0x{Available:x}
            lhu t2, 2(t1)
            andi t3, t2, 7
            slli t3, t3, 1
            add t3, t3, t1
            sh zero, 4(t3)              # ring[idx % 8] = head 0
            addi t2, t2, 1
            fence rw, rw
            sh t2, 2(t1)                # idx++
            fence rw, rw
            sw zero, 0x50(s1)           # QueueNotify = 0
            li t2, 0x{StatusByte:x}
            lbu a0, 0(t2)
            ret
        fail:
            slli a7, a7, 1
            ori a7, a7, 1
            la t0, tohost
            sd a7, 0(t0)
        2:  j 2b
        """;

    /// <summary>The data section with the HTIF tohost word.</summary>
    public const string Epilogue = """
            .section .data
            .align 6
            .globl tohost
        tohost: .dword 0
        """;
}
