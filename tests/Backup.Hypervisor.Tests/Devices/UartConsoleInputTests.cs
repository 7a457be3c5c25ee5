using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Tests.Support;
using Backup.Hypervisor.Timing;
using Backup.TestSupport;

namespace Backup.Hypervisor.Tests.Devices;

/// <summary>
/// Keyboard input at machine level: <see cref="VirtualMachine.SendConsoleInput"/> from the test thread reaches a
/// bare-metal program reading UART0 (QEMU virt layout: 16550 at 0x10000000, PLIC source 10), by polling LSR.DR and
/// by the received-data interrupt through the PLIC. The programs echo what they read and end on a newline.
/// </summary>
public sealed class UartConsoleInputTests
{
    private const string Definitions = """
            .equ UART, 0x10000000
            .equ UART_RBR, 0
            .equ UART_THR, 0
            .equ UART_IER, 1
            .equ UART_IIR, 2
            .equ UART_LSR, 5
            .equ LSR_DR, 0x01
            .equ PLIC, 0x0C000000
            .equ PLIC_PRIORITY_10, PLIC + 4 * 10
            .equ PLIC_ENABLE_CTX0, PLIC + 0x2000          # context 0: hart 0, M-mode
            .equ PLIC_THRESHOLD_CTX0, PLIC + 0x200000
            .equ PLIC_CLAIM_CTX0, PLIC + 0x200004

            # Prints the NUL-terminated string at \label on the UART. Clobbers t0, t1, t2.
            .macro PRINT label
                la t0, \label
                li t2, UART
            1:  lbu t1, 0(t0)
                beqz t1, 2f
                sb t1, UART_THR(t2)
                addi t0, t0, 1
                j 1b
            2:
            .endm

            # HTIF exit: 0 = pass, otherwise the failing check's number.
            .macro EXIT code
                la t0, tohost
                li t1, (\code << 1) | 1
                sd t1, 0(t0)
            99: j 99b
            .endm

        """;

    private const string Epilogue = """

            .section .data
        ready: .asciz "ready\n"
            .align 6
            .globl tohost
        tohost: .dword 0
            .align 6
            .globl fromhost
        fromhost: .dword 0
        """;

    private static ConsoleInputSession Start(string body) => new(new VmConfiguration
    {
        ElfPath = RiscvAssembler.AssembleElf(Definitions + """
                .section .text
                .globl _start
            _start:
            """ + body + Epilogue),
        MemorySize = 16UL << 20,
        Clock = ClockMode.Deterministic,
    });

    [Fact]
    public void A_program_polling_lsr_data_ready_reads_and_echoes_what_is_typed()
    {
        using var session = Start("""
                PRINT ready
                li s0, UART
            poll:
                lbu t0, UART_LSR(s0)
                andi t0, t0, LSR_DR
                beqz t0, poll
                lbu t1, UART_RBR(s0)
                sb t1, UART_THR(s0)
                addi s1, s1, 1              # bytes read
                li t2, '\n'
                bne t1, t2, poll
                lbu t0, UART_LSR(s0)        # everything typed was consumed: DR is clear again
                andi t0, t0, LSR_DR
                beqz t0, 1f
                EXIT 2
            1:  EXIT 0
            """);

        session.WaitFor("ready\n");
        session.Type("hello, uart\n");
        var exit = session.WaitForExit();

        Assert.True(exit is { Kind: VmExitKind.HtifExit, ExitCode: 0 }, $"{exit}\n{session.Console.Text}");
        Assert.Equal("ready\nhello, uart\n", session.Console.Text);
        Assert.Equal(12UL, session.Vm.Harts[0].GetRegister(9)); // s1
    }

    [Fact]
    public void Typed_input_raises_the_uart_receive_interrupt_through_the_plic_to_a_waiting_hart()
    {
        using var session = Start("""
                la t0, trap
                csrw mtvec, t0
                li s0, UART
                li t0, 1
                sb t0, UART_IER(s0)          # IER.ERBFI: interrupt on received data
                li t0, PLIC_PRIORITY_10
                li t1, 1
                sw t1, 0(t0)
                li t0, PLIC_ENABLE_CTX0
                li t1, 1 << 10
                sw t1, 0(t0)
                li t0, PLIC_THRESHOLD_CTX0
                sw zero, 0(t0)
                li t0, 1 << 11
                csrs mie, t0                 # MEIE
                csrsi mstatus, 1 << 3        # MIE
                PRINT ready
            idle:
                wfi
                beqz s2, idle                # s2: a newline was read
                EXIT 0

                .align 2
            trap:
                csrr t0, mcause
                li t1, (1 << 63) | 11        # machine external interrupt
                beq t0, t1, 1f
                EXIT 3
            1:  addi s3, s3, 1               # interrupts taken
                li t0, PLIC_CLAIM_CTX0
                lw s4, 0(t0)
                li t1, 10
                beq s4, t1, 2f
                EXIT 4
            2:  lbu t1, UART_IIR(s0)
                andi t1, t1, 0x0F
                li t2, 0x04                  # IIR: received data available
                beq t1, t2, drain
                EXIT 5
            drain:
                lbu t1, UART_LSR(s0)
                andi t1, t1, LSR_DR
                beqz t1, done
                lbu t1, UART_RBR(s0)
                sb t1, UART_THR(s0)
                li t2, '\n'
                bne t1, t2, drain
                li s2, 1
                j drain
            done:
                li t0, PLIC_CLAIM_CTX0
                sw s4, 0(t0)                 # complete
                mret
            """);

        session.WaitFor("ready\n");
        Assert.Equal(0UL, session.Vm.Harts[0].GetRegister(19)); // s3: no interrupt before anything is typed
        session.Type("abc");
        session.WaitFor("abc");
        session.Type("de\n");
        var exit = session.WaitForExit();

        Assert.True(exit is { Kind: VmExitKind.HtifExit, ExitCode: 0 }, $"{exit}\n{session.Console.Text}");
        Assert.Equal("ready\nabcde\n", session.Console.Text);
        Assert.InRange(session.Vm.Harts[0].GetRegister(19), 2UL, 5UL); // one interrupt per burst of typing (give or take a split burst)
    }
}
