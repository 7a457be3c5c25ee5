using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Tests.Devices;
using Backup.Hypervisor.Tests.Support;
using Backup.Hypervisor.Timing;
using Backup.TestSupport;

namespace Backup.Hypervisor.Tests.Sbi;

/// <summary>
/// Keyboard input through SBI: a supervisor program booted as the kernel (no Linux header, so it is loaded at RAM
/// base + 2 MiB and entered in S-mode as a kernel is) reads the console with legacy console_getchar (EID 0x02) and
/// echoes with console_putchar (EID 0x01), as Linux's hvc0 console does. Once the guest has read the SBI console,
/// <see cref="VirtualMachine.SendConsoleInput"/> feeds it there instead of the UART.
/// </summary>
public sealed class SbiConsoleInputTests : IDisposable
{
    private readonly string _kernelPath = Path.Combine(Path.GetTempPath(), $"sbi-echo-{Guid.NewGuid():N}.bin");

    public void Dispose() => File.Delete(_kernelPath);

    [Fact]
    public void Typed_input_reaches_a_guest_reading_sbi_console_getchar_which_echoes_it()
    {
        byte[] program = RiscvAssembler.Assemble("""
                .equ SRST, 0x53525354
                .text
                .globl _start
            _start:
                li a7, 2
                ecall                       # getchar before anything was typed: -1
                li t0, -1
                bne a0, t0, fail
                la s0, ready
            1:  lbu a0, 0(s0)
                beqz a0, read
                li a7, 1
                ecall                       # putchar
                addi s0, s0, 1
                j 1b
            read:
                li a7, 2
                ecall
                bltz a0, read               # -1: nothing yet
                mv s1, a0
                li a7, 1
                ecall                       # echo (a0 is the character)
                addi s2, s2, 1
                li t0, '\n'
                bne s1, t0, read
                li a7, SRST
                li a6, 0
                li a0, 0                    # shutdown
                li a1, 0
                ecall
            fail:
                li a7, SRST
                li a6, 0
                li a0, 1                    # cold reboot: the test treats it as failure
                li a1, 1                    # reason: system failure
                ecall
            ready:
                .asciz "ready\n"
            """);
        File.WriteAllBytes(_kernelPath, program);
        using var session = new ConsoleInputSession(new VmConfiguration
        {
            KernelPath = _kernelPath,
            MemorySize = 16UL << 20,
            Clock = ClockMode.Deterministic,
        });

        session.WaitFor("ready\n");
        session.Type("typed at the console\n");
        var exit = session.WaitForExit();

        Assert.True(exit.Kind == VmExitKind.PowerOff, $"{exit}\n{session.Console.Text}");
        Assert.Equal("ready\ntyped at the console\n", session.Console.Text);
        Assert.Equal(21UL, session.Vm.Harts[0].GetRegister(18)); // s2: every byte read once
    }
}
