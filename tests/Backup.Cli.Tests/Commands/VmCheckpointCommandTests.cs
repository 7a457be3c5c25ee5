using Backup.TestSupport;

namespace Backup.Cli.Tests.Commands;

/// <summary>`backup vm run --checkpoint-dir` and `backup vm resume --from`, as a user drives them.</summary>
public sealed class VmCheckpointCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cli-checkpoints-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_vm_checkpointed_while_running_resumes_from_its_newest_checkpoint()
    {
        string disk = Path.Combine(_dir, "disk.img");
        File.WriteAllBytes(disk, new byte[8 << 20]);
        string checkpoints = Path.Combine(_dir, "checkpoints");
        var timeout = TimeSpan.FromMinutes(2);

        var (code, stdout, stderr) = BackupProcess.Run(timeout, "vm", "run", "--kernel", GuestImage.KernelPath, "--disk", disk,
            "--memory", "64", "--cmdline", "console=ttyS0 guest.heartbeat=1 guest.poweroff=4",
            "--checkpoint-dir", checkpoints, "--checkpoint-every", "00:00:00.700");
        Assert.True(code == 0, stderr + stdout);
        Assert.Contains("(full,", stderr, StringComparison.Ordinal);
        Assert.Contains("(incremental,", stderr, StringComparison.Ordinal);
        Assert.True(Directory.GetFiles(checkpoints, "*.vmstate").Length >= 2);

        var (resumedCode, resumedOut, resumedErr) = BackupProcess.Run(timeout, "vm", "resume", "--from", checkpoints,
            "--kernel", GuestImage.KernelPath, "--disk", disk, "--memory", "64");
        Assert.True(resumedCode == 0, resumedErr + resumedOut);
        Assert.Contains("resumed from", resumedErr, StringComparison.Ordinal);
        Assert.DoesNotContain("Linux version", resumedOut, StringComparison.Ordinal); // continued, not booted again
        Assert.Contains("guest: poweroff", resumedOut, StringComparison.Ordinal);
    }

    [Fact]
    public void Resuming_from_a_folder_without_checkpoints_or_with_a_mismatched_machine_fails_clearly()
    {
        var (code, _, stderr) = BackupProcess.Run(TimeSpan.FromMinutes(1), "vm", "resume", "--from", _dir, "--kernel", GuestImage.KernelPath);
        Assert.Equal(2, code);
        Assert.Contains("no checkpoints", stderr, StringComparison.Ordinal);
    }
}
