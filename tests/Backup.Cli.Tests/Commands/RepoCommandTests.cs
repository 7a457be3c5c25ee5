using System.Text;

namespace Backup.Cli.Tests.Commands;

/// <summary>`backup repo ...` driven as a user drives it: the real process, files on disk, exit codes.</summary>
public sealed class RepoCommandTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "backup-cli-repo-" + Guid.NewGuid().ToString("N"));

    public RepoCommandTests()
    {
        Directory.CreateDirectory(_dir);
        File.WriteAllText(PasswordFile, "cli test passphrase\n");
    }

    private string Repo => Path.Combine(_dir, "repo");

    private string PasswordFile => Path.Combine(_dir, "password");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] Image(int length, int seed)
    {
        var image = new byte[length];
        var random = new Random(seed);
        for (var position = 0; position < length; position += 64 * 1024)
        {
            var span = image.AsSpan(position, Math.Min(64 * 1024, length - position));
            switch (random.Next(3))
            {
                case 0: random.NextBytes(span); break;
                case 1: Encoding.ASCII.GetBytes(new string('x', span.Length)).CopyTo(span); break;
                default: break;
            }
        }

        return image;
    }

    private (int ExitCode, string StdOut, string StdErr) Repository(params string[] args) =>
        BackupProcess.Run(Timeout, ["repo", .. args, "--repo", Repo, "--password-file", PasswordFile]);

    private static void Ok((int ExitCode, string StdOut, string StdErr) result) =>
        Assert.True(result.ExitCode == 0, $"exit {result.ExitCode}\n{result.StdOut}\n{result.StdErr}");

    [Fact]
    public void Init_put_points_get_verify_forget_gc_round_trip()
    {
        Ok(Repository("init"));
        var first = Image(3 * 1024 * 1024, 1);
        var second = (byte[])first.Clone();
        new Random(2).NextBytes(second.AsSpan(1024 * 1024, 4096));
        File.WriteAllBytes(Path.Combine(_dir, "v1.img"), first);
        File.WriteAllBytes(Path.Combine(_dir, "v2.img"), second);

        var put1 = Repository("put", Path.Combine(_dir, "v1.img"), "--vm", "web");
        Ok(put1);
        var id1 = put1.StdOut.Trim();
        Assert.Contains("put v1.img", put1.StdErr, StringComparison.Ordinal); // plain progress lines when not on a terminal
        var put2 = Repository("put", Path.Combine(_dir, "v2.img"), "--vm", "web");
        Ok(put2);
        var id2 = put2.StdOut.Trim();

        var points = Repository("points");
        Ok(points);
        Assert.Contains(id1, points.StdOut, StringComparison.Ordinal);
        Assert.Contains(id2, points.StdOut, StringComparison.Ordinal);

        var restored = Path.Combine(_dir, "restored.img");
        Ok(Repository("get", id1, "--out", restored));
        Assert.Equal(first, File.ReadAllBytes(restored));
        Ok(Repository("get", "latest", "--out", restored));
        Assert.Equal(second, File.ReadAllBytes(restored));

        var verify = Repository("verify");
        Ok(verify);
        Assert.Contains("no damage found", verify.StdOut, StringComparison.Ordinal);
        Ok(Repository("verify", "--sample", "50"));

        var forget = Repository("forget", "--keep-last", "1");
        Ok(forget);
        Assert.Contains($"forgot {id1}", forget.StdOut, StringComparison.Ordinal);
        var remaining = Repository("points");
        Assert.DoesNotContain(id1, remaining.StdOut, StringComparison.Ordinal);

        var gc = Repository("gc", "--grace", "0s", "--repack-threshold", "0");
        Ok(gc);
        Assert.Contains("repacked", gc.StdOut, StringComparison.Ordinal);
        Ok(Repository("get", id2, "--out", restored));
        Assert.Equal(second, File.ReadAllBytes(restored));
        Ok(Repository("verify"));
        var info = Repository("info");
        Ok(info);
        Assert.Contains("points       1", info.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_exits_1_and_names_the_damaged_point_when_a_pack_is_corrupted()
    {
        Ok(Repository("init"));
        File.WriteAllBytes(Path.Combine(_dir, "v1.img"), Image(2 * 1024 * 1024, 3));
        var id = Repository("put", Path.Combine(_dir, "v1.img"), "--vm", "db").StdOut.Trim();
        var pack = Directory.GetFiles(Path.Combine(Repo, "packs"), "*", SearchOption.AllDirectories).First();
        var bytes = File.ReadAllBytes(pack);
        bytes[100] ^= 0xff;
        File.WriteAllBytes(pack, bytes);

        var verify = Repository("verify");
        Assert.Equal(1, verify.ExitCode);
        Assert.Contains($"damaged point {id}", verify.StdOut, StringComparison.Ordinal);
        Assert.Contains("DAMAGED", verify.StdOut, StringComparison.Ordinal);

        var get = Repository("get", id, "--out", Path.Combine(_dir, "out.img"));
        Assert.Equal(1, get.ExitCode);
        Assert.Contains("repository damaged", get.StdErr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", get.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public void Passphrase_from_the_environment_and_copy_to_a_repository_with_another_passphrase()
    {
        var target = Path.Combine(_dir, "target");
        var env = new Dictionary<string, string?> { ["BACKUP_PASSWORD"] = "source secret", ["BACKUP_TO_PASSWORD"] = "target secret" };
        var targetEnv = new Dictionary<string, string?> { ["BACKUP_PASSWORD"] = "target secret" };
        Ok(BackupProcess.Run(Timeout, env, "repo", "init", "--repo", Repo));
        Ok(BackupProcess.Run(Timeout, targetEnv, "repo", "init", "--repo", target));
        var image = Image(2 * 1024 * 1024, 5);
        File.WriteAllBytes(Path.Combine(_dir, "v1.img"), image);
        var id = BackupProcess.Run(Timeout, env, "repo", "put", Path.Combine(_dir, "v1.img"), "--repo", Repo, "--vm", "web").StdOut.Trim();

        var copy = BackupProcess.Run(Timeout, env, "repo", "copy", "--repo", Repo, "--to", target);
        Ok(copy);
        Assert.Contains("copied 1 points", copy.StdOut, StringComparison.Ordinal);
        var again = BackupProcess.Run(Timeout, env, "repo", "copy", "--repo", Repo, "--to", target);
        Assert.Contains("copied 0 points (1 already there)", again.StdOut, StringComparison.Ordinal);

        var restored = Path.Combine(_dir, "restored.img");
        Ok(BackupProcess.Run(Timeout, targetEnv, "repo", "get", id, "--repo", target, "--out", restored));
        Assert.Equal(image, File.ReadAllBytes(restored));
    }

    [Fact]
    public void Stale_locks_are_reported_and_removed_on_request()
    {
        Ok(Repository("init"));
        var old = DateTimeOffset.UtcNow.AddHours(-3).ToString("O");
        Directory.CreateDirectory(Path.Combine(Repo, "locks"));
        File.WriteAllText(Path.Combine(Repo, "locks", "0011223344556677"),
            $$"""{"version":1,"kind":"Exclusive","operation":"gc","host":"elsewhere","pid":99,"applianceId":"x","created":"{{old}}","refreshed":"{{old}}"}""");
        var locks = Repository("locks");
        Ok(locks);
        Assert.Contains("STALE exclusive lock locks/0011223344556677", locks.StdOut, StringComparison.Ordinal);
        Ok(Repository("locks", "--remove-stale"));
        Assert.Empty(Directory.GetFiles(Path.Combine(Repo, "locks")));
    }

    [Fact]
    public void Bad_input_exits_2_with_a_clear_message_and_no_stack_trace()
    {
        Ok(Repository("init"));
        File.WriteAllText(Path.Combine(_dir, "wrong"), "not the passphrase");
        File.WriteAllBytes(Path.Combine(_dir, "small.img"), new byte[4096]);
        var cases = new (string[] Args, string Message)[]
        {
            (["repo", "points", "--repo", Repo, "--password-file", Path.Combine(_dir, "wrong")], "wrong passphrase"),
            (["repo", "points", "--repo", Path.Combine(_dir, "missing"), "--password-file", PasswordFile], "no repository at"),
            (["repo", "points", "--repo", "s3://", "--password-file", PasswordFile], "bucket"),
            (["repo", "points", "--repo", "ftp://host/x", "--password-file", PasswordFile], "ftp"),
            (["repo", "points", "--repo", Repo], "no passphrase"),
            (["repo", "points"], "--repo"),
            (["repo", "put", Path.Combine(_dir, "nope.img"), "--repo", Repo, "--vm", "web", "--password-file", PasswordFile], "does not exist"),
            (["repo", "put", Path.Combine(_dir, "small.img"), "--repo", Repo, "--password-file", PasswordFile], "--vm"),
            (["repo", "get", "20250101T000000Z-00000000", "--repo", Repo, "--out", Path.Combine(_dir, "o"), "--password-file", PasswordFile], "does not exist"),
            (["repo", "verify", "--sample", "0", "--repo", Repo, "--password-file", PasswordFile], "--sample"),
            (["repo", "forget", "--repo", Repo, "--password-file", PasswordFile], "--keep-last"),
            (["repo", "gc", "--grace", "soon", "--repo", Repo, "--password-file", PasswordFile], "not a duration"),
            (["repo", "init", "--repo", Repo, "--password-file", PasswordFile], "already holds a repository"),
        };
        foreach (var (args, message) in cases)
        {
            var (code, _, stderr) = BackupProcess.Run(Timeout, args);
            Assert.True(code == 2, $"{string.Join(' ', args)} exited {code}: {stderr}");
            Assert.StartsWith("backup: ", stderr, StringComparison.Ordinal);
            Assert.Contains(message, stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
        }
    }
}
