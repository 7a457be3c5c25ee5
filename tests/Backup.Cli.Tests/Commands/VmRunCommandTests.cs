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
