using Backup.TestSupport;

namespace Backup.Cli.Tests.Commands;

/// <summary>`backup vm run` driven as a user drives it.</summary>
public sealed class VmRunCommandTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    private static string Program(int htifValue) => RiscvAssembler.AssembleElf($"""
            .section .text
            .globl _start
        _start:
            la t0, begin_signature
            li t1, 0x600dcafe
            sw t1, 4(t0)
            la t0, tohost
            li t1, {htifValue}
            sd t1, 0(t0)
        1:  j 1b
            .section .data
            .align 4
            .globl begin_signature
        begin_signature: .word 0x11111111, 0, 0x33333333
            .globl end_signature
        end_signature:
            .align 6
            .globl tohost
        tohost: .dword 0
        """);

    [Fact]
    public void A_passing_bare_metal_program_exits_0_and_writes_its_signature()
    {
        string signature = Path.GetTempFileName();
        try
        {
            var (code, _, stderr) = BackupProcess.Run(Timeout, "vm", "run", "--elf", Program(1), "--signature", signature);
            Assert.True(code == 0, stderr);
            Assert.Equal(["11111111", "600dcafe", "33333333"], File.ReadAllLines(signature));
        }
        finally
        {
            File.Delete(signature);
        }
    }

    [Fact]
    public void A_failing_bare_metal_program_exits_with_its_htif_status()
    {
        var (code, _, stderr) = BackupProcess.Run(Timeout, "vm", "run", "--elf", Program((7 << 1) | 1));
        Assert.Equal(7, code);
        Assert.Contains("HTIF exit 7", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void The_linux_guest_boots_and_the_command_exits_0_when_it_powers_off()
    {
        string kernel = GuestImage.KernelPath;
        var (code, stdout, stderr) = BackupProcess.Run(Timeout, "vm", "run", "--kernel", kernel, "--memory", "64",
            "--cmdline", "console=ttyS0 guest.poweroff=0");
        Assert.True(code == 0, stderr + stdout);
        Assert.Contains("guest: ready", stdout, StringComparison.Ordinal);
        Assert.Contains("guest: poweroff", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void The_linux_guest_boots_in_translated_mode_and_reports_what_was_compiled()
    {
        var (code, stdout, stderr) = BackupProcess.Run(Timeout, "vm", "run", "--kernel", GuestImage.KernelPath, "--memory", "64",
            "--cmdline", "console=ttyS0 guest.poweroff=0", "--execution", "translated", "--stats");
        Assert.True(code == 0, stderr + stdout);
        Assert.Contains("guest: ready", stdout, StringComparison.Ordinal);
        Assert.Contains("[vm] translated: ", stderr, StringComparison.Ordinal);
    }

    /// <summary>A bare-metal program: <paramref name="body"/> after _start, then a tohost word for HTIF.</summary>
    private static string Elf(string body) => RiscvAssembler.AssembleElf($"""
            .section .text
            .globl _start
        _start:
        {body}
            .section .data
            .align 6
            .globl tohost
        tohost: .dword 0
        """);

    /// <summary>Prints <paramref name="label"/>'s string (NUL-terminated) on the NS16550A at 0x10000000 (held in s0).</summary>
    private static string Print(string label) => $"""
            la a0, {label}
        90: lbu t0, 0(a0)
            beqz t0, 91f
            sb t0, 0(s0)
            addi a0, a0, 1
            j 90b
        91:
        """;

    [Theory]
    [InlineData("li t1, (256 << 1) | 1; la t0, tohost; sd t1, 0(t0)", "HTIF exit 256")]
    [InlineData("li t1, (1000 << 1) | 1; la t0, tohost; sd t1, 0(t0)", "HTIF exit 1000")]
    [InlineData("li t1, 0x3333 | (256 << 16); li t0, 0x100000; sw t1, 0(t0)", "failure (code 256)")]
    public void A_guest_failure_status_that_does_not_fit_a_byte_still_fails_the_command(string fail, string reason)
    {
        // 256 would reach the shell as 0 (a pass) if it were handed to exit() as it is.
        var (code, _, stderr) = BackupProcess.Run(Timeout, "vm", "run", "--elf", Elf(fail + "\n1: j 1b"));
        Assert.Equal(255, code);
        Assert.Contains(reason, stderr, StringComparison.Ordinal);
        Assert.Contains("exiting with 255", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void A_vm_that_stops_on_an_error_exits_non_zero_with_the_reason()
    {
        var (code, stdout, stderr) = BackupProcess.Run(Timeout, "vm", "run", "--elf", Elf("""
                li t0, 0x40000000
                csrw mtvec, t0
                .word 0                     # illegal instruction: its trap vector has nothing behind it
            """));
        Assert.True(code == 1, $"exit {code}: {stderr}{stdout}");
        Assert.Contains("[vm] stopped: ", stderr, StringComparison.Ordinal);
        Assert.Contains("mtvec 0x40000000", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void The_guest_writes_its_block_to_the_disk_image_and_the_host_sees_it()
    {
        string disk = Path.Combine(Path.GetTempPath(), $"vm-run-disk-{Guid.NewGuid():N}.img");
        try
        {
            File.WriteAllBytes(disk, new byte[8 << 20]);
            var (code, stdout, stderr) = BackupProcess.Run(Timeout, "vm", "run", "--kernel", GuestImage.KernelPath, "--memory", "64",
                "--disk", disk, "--cmdline", "console=ttyS0 guest.poweroff=0");
            Assert.True(code == 0, stderr + stdout);
            Assert.Contains("guest: disk write ok", stdout, StringComparison.Ordinal);

            // docs/guest.md: the block goes to sector 1 and starts with the magic.
            using var image = File.OpenRead(disk);
            image.Position = 512;
            var magic = new byte["guest-block-v1".Length];
            image.ReadExactly(magic);
            Assert.Equal("guest-block-v1", System.Text.Encoding.ASCII.GetString(magic));
        }
        finally
        {
            File.Delete(disk);
        }
    }

    [Fact]
    public void Linux_boots_on_four_cpus()
    {
        var (code, stdout, stderr) = BackupProcess.Run(TimeSpan.FromMinutes(4), "vm", "run", "--kernel", GuestImage.KernelPath, "--memory", "128",
            "--cpus", "4", "--cmdline", "console=ttyS0 guest.poweroff=0");
        Assert.True(code == 0, stderr + stdout);
        Assert.Contains("smp: Brought up 1 node, 4 CPUs", stdout, StringComparison.Ordinal);
        Assert.Contains("guest: ready", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Piped_stdin_reaches_the_guest_uart()
    {
        // The guest polls the UART's receiver and echoes each byte upper-cased until a newline, then passes.
        string elf = Elf($"""
                li s0, 0x10000000
            {Print("banner")}
            2:  lbu t0, 5(s0)               # LSR
                andi t0, t0, 1              # DR: a byte waits
                beqz t0, 2b
                lbu t1, 0(s0)               # RBR
                li t2, 97
                blt t1, t2, 3f
                li t2, 122
                bgt t1, t2, 3f
                addi t1, t1, -32
            3:  sb t1, 0(s0)
                li t2, 10
                bne t1, t2, 2b
                la t0, tohost
                li t1, 1
                sd t1, 0(t0)
            4:  j 4b
                .section .rodata
            banner: .asciz "echo: ready\n"
            """);
        using var process = new InteractiveBackupProcess("vm", "run", "--elf", elf);
        process.Type("hello, guest\n"); // typed at once: before the VM exists, the relay keeps it
        process.CloseInput();
        int code = process.WaitForExit(Timeout);
        Assert.True(code == 0, process.StdErr + process.StdOut);
        Assert.Contains("echo: ready\nHELLO, GUEST\n", process.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public void The_keyboard_reaches_the_linux_guests_shell_which_can_reboot_and_power_off()
    {
        var guest = RealisticGuest.Locate();
        var dir = Directory.CreateTempSubdirectory("vm-run-shell-");
        try
        {
            var (root, data) = guest.CopyDisks(dir.FullName);
            using var process = new InteractiveBackupProcess("vm", "run", "--kernel", RealisticGuest.KernelPath, "--memory", "128",
                "--disk", root, "--disk", data, "--agent-channel", "--cmdline", guest.CommandLine);
            var timeout = TimeSpan.FromMinutes(3);
            process.WaitForOutput("root@dbserver:~# ", 1, timeout);
            process.Type("echo typed-$((6*7))\n"); // the tty echoes the command; only the shell's answer says 42
            process.WaitForOutput("typed-42", 1, timeout);

            // A reboot from the shell (SBI system reset) starts the guest again in the same command.
            process.Type("reboot\n");
            process.WaitForOutput("Linux version", 2, timeout);
            int prompts = InteractiveBackupProcess.Occurrences(process.StdOut, "root@dbserver:~# ");
            process.WaitForOutput("root@dbserver:~# ", prompts + 1, timeout);
            process.Type("poweroff\n");
            process.CloseInput();
            int code = process.WaitForExit(timeout);
            Assert.True(code == 0, process.StdErr + process.StdOut);
            Assert.Equal(2, InteractiveBackupProcess.Occurrences(process.StdOut, "guest: shutting down"));
            Assert.Contains("[vm] the guest rebooted; starting it again", process.StdErr, StringComparison.Ordinal);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void A_guest_reboot_starts_the_guest_again()
    {
        // 'r' asks the syscon device for a reboot, 'q' passes. The second 'boot:' line proves a fresh machine ran.
        string elf = Elf($"""
                li s0, 0x10000000
            {Print("banner")}
            2:  lbu t0, 5(s0)
                andi t0, t0, 1
                beqz t0, 2b
                lbu t1, 0(s0)
                li t2, 114                  # 'r'
                beq t1, t2, 3f
                li t2, 113                  # 'q'
                bne t1, t2, 2b
                la t0, tohost
                li t1, 1
                sd t1, 0(t0)
            4:  j 4b
            3:  li t0, 0x100000
                li t1, 0x7777               # syscon: reboot
                sw t1, 0(t0)
            5:  j 5b
                .section .rodata
            banner: .asciz "boot: waiting for r or q\n"
            """);
        using var process = new InteractiveBackupProcess("vm", "run", "--elf", elf);
        process.Type("r");
        process.WaitForOutput("boot: waiting", 2, Timeout);
        process.Type("q");
        process.CloseInput();
        int code = process.WaitForExit(Timeout);
        Assert.True(code == 0, process.StdErr + process.StdOut);
        Assert.Equal(2, InteractiveBackupProcess.Occurrences(process.StdOut, "boot: waiting"));
        Assert.Equal(1, InteractiveBackupProcess.Occurrences(process.StdErr, "the guest rebooted; starting it again"));
    }

    [Theory]
    [InlineData("vm", "run", "--kernel", "/etc/hostname", "--execution", "fast")]
    [InlineData("vm", "run", "--kernel", "/nonexistent/Image")]
    [InlineData("vm", "run")]
    [InlineData("vm", "run", "--elf", "/etc/hostname")]
    [InlineData("vm", "run", "--kernel", "/etc/hostname", "--memory", "lots")]
    [InlineData("vm", "run", "--kernel", "/etc/hostname", "--cpus", "9")]
    [InlineData("vm", "run", "--kernel", "/etc/hostname", "--disk", "/nonexistent.img")]
    public void Bad_input_exits_2_with_a_message_and_no_stack_trace(params string[] args)
    {
        var (code, _, stderr) = BackupProcess.Run(Timeout, args);
        Assert.Equal(2, code);
        Assert.StartsWith("backup: ", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }
}
