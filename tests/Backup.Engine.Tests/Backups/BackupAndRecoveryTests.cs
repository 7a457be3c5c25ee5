using System.Security.Cryptography;
using Backup.Disks.Snapshots;
using Backup.Engine.Backups;
using Backup.Engine.Recovery;
using Backup.Engine.Restores;
using Backup.Engine.Running;
using Backup.Engine.Tests.Support;
using Backup.Engine.Vms;
using Backup.Repository;
using Backup.Repository.Backends;
using Backup.Repository.Backends.Local;
using Backup.Repository.Backends.S3;
using Backup.Repository.Configuration;
using Backup.Repository.Crypto;
using Backup.Repository.Tests.Backends.Servers;

namespace Backup.Engine.Tests.Backups;

/// <summary>
/// The engine end to end on the real guest: backups of a running server (full, then incremental by changed blocks),
/// full restores byte-identical to the cut, and instant recovery (cold and resume) into a healthy database holding
/// every row committed before the cut; on a local folder and on S3 (s3rver).
/// </summary>
public sealed class BackupAndRecoveryTests : IDisposable, IClassFixture<S3ServerFixture>
{
    private const string Passphrase = "engine tests";
    private static readonly TimeSpan AgentTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan BootTimeout = TimeSpan.FromMinutes(3);
    private readonly string _dir = Directory.CreateTempSubdirectory("engine-").FullName;
    private readonly S3ServerFixture _s3;

    public BackupAndRecoveryTests(S3ServerFixture s3) => _s3 = s3;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string> Backends => new() { "local", "s3" };

    private IRepositoryBackend Backend(string kind) => kind == "s3"
        ? new S3Backend(_s3.Options())
        : new LocalFolderBackend(Path.Combine(_dir, "repository"));

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task A_running_server_is_backed_up_incrementally_restored_exactly_and_recovered_cold_and_resumed(string backend)
    {
        using var repository = await BackupRepository.InitAsync(Backend(backend), Passphrase, new RepositoryOptions { Kdf = new KdfParameters(1024, 1, 1) });
        var definition = DemoVm.Create(_dir);
        var request = new BackupRequest { WorkDirectory = Path.Combine(_dir, "work") };
        BackupResult first, second;
        long committedBeforeFirst, committedBeforeSecond;
        string[] cutHashes = [];
        using (var tap = new ConsoleTap(Path.Combine(_dir, "demo.console.log")))
        {
            var console = new ConsoleLines(tap);
            using var vm = ManagedVm.Boot(definition, Path.Combine(_dir, "state"), tap);
            await console.WaitForAsync("guest: ready", vm, BootTimeout);

            committedBeforeFirst = console.LastCommitted;
            first = await VmBackupRunner.BackupAsync(vm, repository, request);
            Assert.Null(first.ParentId);
            Assert.True(first.HasMemoryState);
            Assert.All(first.Disks, d => Assert.NotNull(d.FullReadReason));

            await Task.Delay(TimeSpan.FromSeconds(2)); // the workload keeps committing rows
            committedBeforeSecond = console.LastCommitted;
            second = await VmBackupRunner.BackupAsync(vm, repository, request, null, async snapshots =>
            {
                cutHashes = await Task.Run(() => snapshots.Select(Hash).ToArray());
            }, CancellationToken.None);
            Assert.True(console.LastCommitted > 0, console.Text);
        }

        // The incremental read only the blocks changed since the first point.
        Assert.Equal(first.PointId, second.ParentId);
        Assert.All(second.Disks, d => Assert.Null(d.FullReadReason));
        Assert.All(second.Disks, d => Assert.True(d.ChangedBytes < d.Length / 4, $"{d.Name}: {d.ChangedBytes} of {d.Length} bytes changed"));
        Assert.True(second.Statistics.BytesRead < first.Statistics.BytesRead / 2, $"incremental read {second.Statistics.BytesRead} bytes, the full {first.Statistics.BytesRead}");
        Assert.True(second.Statistics.NewBlobBytes < first.Statistics.NewBlobBytes, $"incremental stored {second.Statistics.NewBlobBytes} bytes, the full {first.Statistics.NewBlobBytes}");

        // A full restore is byte-identical to each disk at the cut.
        for (int i = 0; i < definition.Disks.Count; i++)
        {
            string target = Path.Combine(_dir, $"restored{i}.img");
            await DiskRestorer.RestoreAsync(repository, second.PointId, PointStreams.Disk(i), target);
            Assert.Equal(cutHashes[i], Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(target))));
        }

        // Instant recovery of each point, cold (boots from the repository; the database replays its journal) and resumed
        // (continues from the cut's memory): the database is intact and holds every row committed before the cut.
        foreach (var (point, committed, resume) in new[]
        {
            (second.PointId, committedBeforeSecond, false), (second.PointId, committedBeforeSecond, true),
            (first.PointId, committedBeforeFirst, false), (first.PointId, committedBeforeFirst, true),
        })
        {
            using var tap = new ConsoleTap(null);
            var console = new ConsoleLines(tap);
            using var recovered = await InstantRecovery.StartAsync(repository, new RecoveryRequest
            {
                PointId = point,
                Name = resume ? "resumed" : "cold",
                Resume = resume,
                Directory = Path.Combine(_dir, "recovered", resume ? "resumed" : "cold"),
            }, tap);
            var agent = recovered.Vm.Machine.Agent!;
            if (resume)
            {
                await agent.PingAsync(AgentTimeout);
            }
            else
            {
                await console.WaitForAsync("guest: ready", recovered.Vm, BootTimeout);
                await agent.WaitUntilReadyAsync(AgentTimeout);
            }

            var check = await agent.CheckAsync("db", AgentTimeout);
            Assert.True(check.Healthy, check.Raw);
            Assert.True(check.MaxSequence >= committed, $"{committed} committed before the cut of {point}; recovered ({(resume ? "resume" : "cold")}): {check.Raw}");
            if (resume)
            {
                Assert.DoesNotContain("Linux version", console.Text, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public async Task A_stopped_vm_is_backed_up_cold_and_its_restore_is_byte_identical()
    {
        using var repository = await BackupRepository.InitAsync(new LocalFolderBackend(Path.Combine(_dir, "repository")), Passphrase, new RepositoryOptions { Kdf = new KdfParameters(1024, 1, 1) });
        var definition = DemoVm.Create(_dir);
        var result = await VmBackupRunner.BackupStoppedAsync(definition, Path.Combine(_dir, "state"), repository);
        Assert.Equal("cold", result.Consistency);
        Assert.False(result.HasMemoryState);

        // The same disks again: nothing changed, nothing read but the map says so.
        var again = await VmBackupRunner.BackupStoppedAsync(definition, Path.Combine(_dir, "state"), repository);
        Assert.All(again.Disks, d => Assert.True(d.ChangedBytes == 0, $"{d.Name}: {d.ChangedBytes} bytes changed ({d.FullReadReason})"));
        Assert.True(again.Statistics.NewBlobBytes < 4096, $"only the configuration is new, yet {again.Statistics.NewBlobBytes} bytes were stored");

        for (int i = 0; i < definition.Disks.Count; i++)
        {
            string target = Path.Combine(_dir, $"cold{i}.img");
            await DiskRestorer.RestoreAsync(repository, again.PointId, PointStreams.Disk(i), target);
            Assert.Equal(File.ReadAllBytes(definition.Disks[i].Path), File.ReadAllBytes(target));
        }

        var refused = await Assert.ThrowsAsync<ArgumentException>(() => InstantRecovery.StartAsync(repository,
            new RecoveryRequest { PointId = again.PointId, Resume = true, Directory = Path.Combine(_dir, "r") }, new ConsoleTap(null)));
        Assert.Contains("no memory state", refused.Message, StringComparison.Ordinal);
    }

    private static string Hash(DiskSnapshot snapshot)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        for (long offset = 0; offset < snapshot.Length; offset += buffer.Length)
        {
            int length = (int)Math.Min(buffer.Length, snapshot.Length - offset);
            snapshot.Read(offset, buffer.AsSpan(0, length));
            hash.AppendData(buffer, 0, length);
        }

        return Convert.ToHexString(hash.GetHashAndReset());
    }
}
