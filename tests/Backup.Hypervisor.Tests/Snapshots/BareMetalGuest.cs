using Backup.Disks.BlockDevices;
using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Timing;
using Backup.Hypervisor.Translation;
using Backup.TestSupport;

namespace Backup.Hypervisor.Tests.Snapshots;

/// <summary>
/// Small bare-metal guests for checkpoint tests, whose every memory write is known: an M-mode program that talks to
/// the machine's own devices (16550 console, virtio-blk 0 driven through one 8-entry virtqueue, syscon power-off), no
/// HTIF and no stack. Routines (called with <c>call</c>, clobbering t0-t3 and a0-a2; none calls another):
/// <c>puts</c> (a0 = NUL-terminated string), <c>put_hex</c> (a0, printed as 16 hex digits and a newline),
/// <c>virtio_init</c>, <c>virtio_read</c> (a0 = sector, a1 = guest address, a2 = bytes, a multiple of 512; returns the
/// request status in a0, 0 = OK; the device writes only the data buffer and the queue page), <c>wait_input</c> (spins
/// reading the UART's line status until a byte arrives; returns it in a0; writes no memory), <c>power_off</c> and
/// <c>fail</c> (power off with failure code a0).
/// </summary>
internal static class BareMetalGuest
{
    public const ulong RamBase = 0x8000_0000;

    /// <summary>The one page holding the virtqueue (descriptors, available and used rings), request header and status.</summary>
    public const ulong QueuePage = 0x8001_0000;

    public const string Prelude = """
            .equ UART, 0x10000000
            .equ SYSCON, 0x100000
            .equ VIRTIO, 0x10001000
            .equ QUEUE, 0x80010000
            .equ DESC, QUEUE
            .equ AVAIL, QUEUE + 0x100
            .equ USED, QUEUE + 0x200
            .equ REQ, QUEUE + 0x300
            .equ REQ_STATUS, QUEUE + 0x310

            .section .text
            .globl _start
        _start:
            j main

        puts:
            li t0, UART
        1:  lbu t1, 0(a0)
            beqz t1, 2f
            sb t1, 0(t0)
            addi a0, a0, 1
            j 1b
        2:  ret

        put_hex:
            li t0, UART
            li t1, 60
        1:  srl t2, a0, t1
            andi t2, t2, 15
            li t3, 10
            bltu t2, t3, 2f
            addi t2, t2, 87
            j 3f
        2:  addi t2, t2, 48
        3:  sb t2, 0(t0)
            addi t1, t1, -4
            bgez t1, 1b
            li t2, 10
            sb t2, 0(t0)
            ret

        virtio_init:
            li t0, VIRTIO
            sw zero, 0x70(t0)
            li t1, 1
            sw t1, 0x70(t0)
            li t1, 3
            sw t1, 0x70(t0)
            li t1, 1
            sw t1, 0x24(t0)
            sw t1, 0x20(t0)
            sw zero, 0x24(t0)
            sw zero, 0x20(t0)
            li t1, 11
            sw t1, 0x70(t0)
            lw t1, 0x70(t0)
            andi t1, t1, 8
            bnez t1, 1f
            li a0, 90
            j fail
        1:  sw zero, 0x30(t0)
            li t1, 8
            sw t1, 0x38(t0)
            li t1, DESC
            sw t1, 0x80(t0)
            srli t1, t1, 32
            sw t1, 0x84(t0)
            li t1, AVAIL
            sw t1, 0x90(t0)
            srli t1, t1, 32
            sw t1, 0x94(t0)
            li t1, USED
            sw t1, 0xa0(t0)
            srli t1, t1, 32
            sw t1, 0xa4(t0)
            li t1, 1
            sw t1, 0x44(t0)
            li t1, 15
            sw t1, 0x70(t0)
            ret

        virtio_read:
            li t0, REQ
            sw zero, 0(t0)
            sw zero, 4(t0)
            sd a0, 8(t0)
            li t0, DESC
            li t1, REQ
            sd t1, 0(t0)
            li t1, 16
            sw t1, 8(t0)
            li t1, 1
            sh t1, 12(t0)
            sh t1, 14(t0)
            sd a1, 16(t0)
            sw a2, 24(t0)
            li t1, 3
            sh t1, 28(t0)
            li t1, 2
            sh t1, 30(t0)
            li t1, REQ_STATUS
            sd t1, 32(t0)
            li t1, 1
            sw t1, 40(t0)
            li t1, 2
            sh t1, 44(t0)
            sh zero, 46(t0)
            li t1, 0xff
            li t2, REQ_STATUS
            sb t1, 0(t2)
            li t0, AVAIL
            lhu t1, 2(t0)
            andi t2, t1, 7
            slli t2, t2, 1
            add t2, t2, t0
            sh zero, 4(t2)
            fence w, w
            addi t1, t1, 1
            slli t1, t1, 48
            srli t1, t1, 48
            sh t1, 2(t0)
            fence
            li t0, VIRTIO
            sw zero, 0x50(t0)
            li t0, USED
        1:  lhu t2, 2(t0)
            bne t2, t1, 1b
            li t0, VIRTIO
            lw t1, 0x60(t0)
            sw t1, 0x64(t0)
            li t0, REQ_STATUS
            lbu a0, 0(t0)
            ret

        wait_input:
            li t0, UART
        1:  lbu t1, 5(t0)
            andi t1, t1, 1
            beqz t1, 1b
            lbu a0, 0(t0)
            ret

        power_off:
            li t0, SYSCON
            li t1, 0x5555
            sw t1, 0(t0)
        1:  j 1b

        fail:
            li t0, SYSCON
            slli a0, a0, 16
            li t1, 0x3333
            or t1, t1, a0
            sw t1, 0(t0)
        1:  j 1b

        """;

    /// <summary>Assembles <paramref name="main"/> (starting at label <c>main</c>) after the <see cref="Prelude"/>; returns the ELF's path.</summary>
    public static string Build(string main) => RiscvAssembler.AssembleElf(Prelude + main + "\n");

    public static VmConfiguration Config(string elfPath, IBlockDevice disk, ExecutionMode execution = ExecutionMode.Interpreter) => new()
    {
        ElfPath = elfPath,
        MemorySize = 16UL << 20,
        Disks = [disk],
        Clock = ClockMode.Deterministic,
        Execution = execution,
        SynchronousTranslation = true,
    };

    /// <summary>Byte <c>i</c> of every test disk: varied enough that a misplaced sector shows.</summary>
    public static byte DiskByte(long offset) => (byte)((offset * 7) + (offset >> 9) + 3);

    public static void CreateDisk(string path, long size = 1L << 20)
    {
        var content = new byte[size];
        for (long i = 0; i < size; i++)
        {
            content[i] = DiskByte(i);
        }

        File.WriteAllBytes(path, content);
    }

    /// <summary>
    /// Runs (on the calling thread, a few thousand instructions at a time) until register <paramref name="register"/>
    /// of hart 0 holds <paramref name="value"/>; fails the test if the guest stops first or the budget runs out.
    /// </summary>
    public static void RunUntilRegister(VirtualMachine vm, int register, ulong value, ulong budget = 50_000_000)
    {
        ulong limit = vm.RetiredInstructions + budget;
        while (vm.Harts[0].GetRegister(register) != value)
        {
            Assert.True(vm.RetiredInstructions < limit, $"x{register} never became {value} within {budget} instructions (pc 0x{vm.Harts[0].Pc:x})");
            var exit = vm.RunUntil(vm.RetiredInstructions + 5_000);
            Assert.True(exit.Kind == VmExitKind.Stopped, $"the guest stopped early: {exit}");
        }
    }
}
