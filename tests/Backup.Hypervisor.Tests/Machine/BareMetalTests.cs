using System.Text;
using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Tests.Support;
using Backup.Hypervisor.Timing;
using Backup.TestSupport;

namespace Backup.Hypervisor.Tests.Machine;

/// <summary>
/// Bare-metal mode as a compliance suite drives it: an ELF started in M-mode, HTIF tohost/fromhost for console
/// and exit status, a signature region; and hostile programs that must stop cleanly, never crash the host.
/// </summary>
public sealed class BareMetalTests
{
    private const string Epilogue = """

            .section .data
            .align 6
            .globl tohost
        tohost: .dword 0
            .align 6
            .globl fromhost
        fromhost: .dword 0
        """;

    private static (VmExit Exit, string Console, VirtualMachine Vm) Run(string body, ulong limit = 10_000_000)
    {
        string elf = RiscvAssembler.AssembleElf("""
                .section .text
                .globl _start
            _start:
            """ + body + Epilogue);
        var console = new ConsoleCapture();
        var vm = new VirtualMachine(new VmConfiguration
        {
            ElfPath = elf,
            MemorySize = 16UL << 20,
            Clock = ClockMode.Deterministic,
            InstructionLimit = limit,
        }, console.Write);
        return (vm.Run(), console.Text, vm);
    }

    [Fact]
    public void Writing_1_to_tohost_is_a_pass()
    {
        var (exit, _, vm) = Run("""
                la t0, tohost
                li t1, 1
                sd t1, 0(t0)
            1:  j 1b
            """);
        using (vm)
        {
            Assert.Equal(VmExitKind.HtifExit, exit.Kind);
            Assert.True(exit.ExitCode == 0, exit.ToString());
            Assert.True(exit.Succeeded);
        }
    }

    [Fact]
    public void A_failing_test_number_becomes_the_exit_code()
    {
        var (exit, _, vm) = Run("""
                la t0, tohost
                li t1, (5 << 1) | 1
                sd t1, 0(t0)
            1:  j 1b
            """);
        using (vm)
        {
            Assert.Equal(VmExitKind.HtifExit, exit.Kind);
            Assert.Equal(5, exit.ExitCode);
            Assert.False(exit.Succeeded);
        }
    }

    [Fact]
    public void Htif_console_putchar_and_syscall_write_reach_the_console()
    {
        var (exit, console, vm) = Run("""
                la t0, tohost
                la t2, fromhost
                li t1, (1 << 56) | (1 << 48) | 'h'
                sd t1, 0(t0)
            1:  ld t3, 0(t2)                # wait for the host to acknowledge
                beqz t3, 1b
                sd x0, 0(t2)
                la a0, request
                sd a0, 0(t0)                # syscall proxy: write(1, message, 6)
            2:  ld t3, 0(t2)
                beqz t3, 2b
                la a1, request
                ld a2, 0(a1)                # the host stores the result in request[0]
                li a3, 6
                bne a2, a3, fail
                li t1, 1
                sd t1, 0(t0)
            3:  j 3b
            fail:
                li t1, 3
                sd t1, 0(t0)
            4:  j 4b
                .section .data
                .align 3
            message: .ascii "ello!\n"
                .align 3
            request: .dword 64, 1, message, 6, 0, 0, 0, 0
            """);
        using (vm)
        {
            Assert.True(exit.ExitCode == 0, exit.ToString());
            Assert.Equal("hello!\n", console);
        }
    }

    [Fact]
    public void The_signature_range_is_found_from_the_elf_symbols()
    {
        var (exit, _, vm) = Run("""
                la t0, begin_signature
                li t1, 0xdeadbeef
                sw t1, 0(t0)
                la t0, tohost
                li t1, 1
                sd t1, 0(t0)
            1:  j 1b
                .section .data
                .align 4
                .globl begin_signature
            begin_signature: .word 0, 0, 0, 0
                .globl end_signature
            end_signature:
            """);
        using (vm)
        {
            Assert.True(exit.ExitCode == 0, exit.ToString());
            var (begin, end) = vm.SignatureRange!.Value;
            Assert.Equal(16UL, end - begin);
            Assert.True(vm.Ram.TryGetSpan(begin, 4, out var word));
            Assert.Equal(0xdeadbeefu, BitConverter.ToUInt32(word));
        }
    }

    [Fact]
    public void Wild_loads_stores_and_jumps_trap_in_the_guest_and_the_program_carries_on()
    {
        // Every access below hits nothing (or RAM's far end + 1); the handler counts the faults and skips them.
        var (exit, _, vm) = Run("""
                .option norvc               # the handler skips faulting instructions by 4 bytes
                la t0, handler
                csrw mtvec, t0
                li s0, 0                    # fault count
                li a0, -8
                ld a1, 0(a0)                # top of the address space
                li a0, 0x81000000           # one past 16 MiB of RAM
                sd a1, 0(a0)
                li a0, 0x7ffffff8           # just below RAM
                ld a1, 0(a0)
                li a0, 0x0c000000 - 8       # the hole just below the PLIC
                sw a1, 0(a0)
                li a0, 0x20000000           # unmapped: fetch fault, handler returns to ra
                jalr ra, 0(a0)
                li t1, 5
                bne s0, t1, fail
                la t0, tohost
                li t1, 1
                sd t1, 0(t0)
            1:  j 1b
            fail:
                la t0, tohost
                li t1, 3
                sd t1, 0(t0)
            2:  j 2b
                .align 2
            handler:
                addi s0, s0, 1
                csrr t2, mcause
                li t3, 1                    # instruction access fault: return to the caller
                beq t2, t3, 3f
                csrr t2, mepc
                addi t2, t2, 4
                csrw mepc, t2
                mret
            3:  csrw mepc, ra
                mret
            """);
        using (vm)
        {
            Assert.True(exit.ExitCode == 0, exit.ToString());
        }
    }

    [Fact]
    public void A_trap_vector_pointing_at_nothing_stops_the_vm_with_a_reason()
    {
        var (exit, _, vm) = Run("""
                li t0, 0x40000000
                csrw mtvec, t0
                .word 0                     # illegal instruction: trap to a vector with nothing behind it
            """);
        using (vm)
        {
            Assert.Equal(VmExitKind.Error, exit.Kind);
            Assert.Contains("stuck", exit.Message, StringComparison.Ordinal);
            Assert.Contains("mtvec 0x40000000", exit.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void An_interrupt_storm_cannot_hold_the_machine()
    {
        // A software interrupt that the handler never clears: the guest spends all its time in the handler,
        // yet the machine still honours its instruction limit.
        var (exit, _, vm) = Run("""
                la t0, handler
                csrw mtvec, t0
                li t0, 8                    # MSIE
                csrw mie, t0
                li t0, 0x02000000           # CLINT msip[0] = 1
                li t1, 1
                sw t1, 0(t0)
                csrsi mstatus, 8            # MIE
            1:  j 1b
                .align 2
            handler:
                mret
            """, limit: 2_000_000);
        using (vm)
        {
            Assert.Equal(VmExitKind.Stopped, exit.Kind);
            Assert.Contains("instruction limit", exit.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(0x5555u, VmExitKind.PowerOff, 0)]
    [InlineData(0x7777u, VmExitKind.Reboot, 0)]
    [InlineData(0x3333u | (9u << 16), VmExitKind.GuestFailure, 9)]
    public void The_syscon_test_device_powers_off_reboots_or_fails(uint value, VmExitKind kind, int exitCode)
    {
        var (exit, _, vm) = Run($"""
                li t0, 0x100000
                li t1, {value}
                sw t1, 0(t0)
            1:  j 1b
            """);
        using (vm)
        {
            Assert.Equal(kind, exit.Kind);
            Assert.Equal(exitCode, exit.ExitCode);

            // The guest is gone: a checkpoint now would resume into a machine with no running hart.
            string state = Path.Combine(Path.GetTempPath(), $"ended-{Guid.NewGuid():N}.vmstate");
            var refused = Assert.Throws<InvalidOperationException>(() => vm.Checkpoint(state));
            Assert.Contains("the VM has ended", refused.Message, StringComparison.Ordinal);
            Assert.False(File.Exists(state));
        }
    }

    [Fact]
    public void Malformed_elf_files_are_refused_with_the_file_named()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, Encoding.ASCII.GetBytes("#!/bin/sh\necho not an elf\n"));
            var e = Assert.ThrowsAny<FormatException>(() => new VirtualMachine(new VmConfiguration { ElfPath = path }, _ => { }));
            Assert.Contains(path, e.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
