using Backup.Repository;
using Backup.Repository.Backends.Factory;
using Backup.Repository.Configuration;
using Backup.Repository.Crypto;
using Backup.Repository.Tests.Backends.Servers;
using Backup.Cli.Tests.Commands;
using Backup.Service.Catalog;
using Backup.Service.Hosting;
using Backup.Service.Repositories;
using Backup.Service.Scheduling;
using Backup.Service.Tests.Support;

namespace Backup.Service.Tests.Hosting;

/// <summary>
/// The service end to end with the real guest: the demo VM autostarts, a policy every 5 seconds backs it up while
/// it runs (the first point full, the next only the changed chunks), the catalog records points and jobs, and the
/// CLI's "backup now" goes through the running service. On a local folder and on S3 (s3rver).
/// </summary>
public sealed class ScheduledBackupTests : IDisposable, IClassFixture<S3ServerFixture>
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(4);
    private readonly string _dir = Directory.CreateTempSubdirectory("service-").FullName;
    private readonly S3ServerFixture _s3;

    public ScheduledBackupTests(S3ServerFixture s3) => _s3 = s3;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string> Backends => new() { "local", "s3" };

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task A_scheduled_policy_backs_up_the_running_vm_incrementally_and_the_cli_backs_up_through_the_service(string backend)
    {
        var (data, demo) = Appliance.WithDemoVm(_dir, autostart: true);
        string repository = "repository";
        string passphrase = RepositoryAccess.DefaultPassphrase;
        if (backend == "s3")
        {
            Environment.SetEnvironmentVariable("AWS_ACCESS_KEY_ID", S3ServerFixture.AccessKey);
            Environment.SetEnvironmentVariable("AWS_SECRET_ACCESS_KEY", S3ServerFixture.SecretKey);
            repository = $"s3://{S3ServerFixture.Bucket}/service-{Guid.NewGuid():N}?endpoint={_s3.Endpoint}&path-style=true";
            string passphraseFile = Path.Combine(_dir, "passphrase");
            File.WriteAllText(passphraseFile, "service tests\n");
            passphrase = "file:" + passphraseFile;
            using var created = await BackupRepository.InitAsync(RepositoryBackendFactory.Create(repository), "service tests",
                new RepositoryOptions { Kdf = new KdfParameters(1024, 1, 1) });
        }

        var plan = new ProtectionPlan
        {
            Name = "every-5s",
            Source = "test",
            Covers = vm => vm == demo.Name,
            Cron = "0/5 * * * * ?",
            Repository = repository,
            PassphraseSource = passphrase,
            MissedFireTime = (_, _) => null,
        };

        IReadOnlyList<PointRecord> points;
        string? applicationPoint;
        await using (var host = await ApplianceHost.StartAsync(new ServiceOptions { Data = data, Plans = [plan] }))
        {
            Assert.NotNull(host.Supervisor.Find(demo.Name));
            await Appliance.WaitUntilAsync(() => host.Catalog.ListPoints(demo.Name).Count >= 2, Patience,
                () => string.Join("\n", host.Catalog.ListJobs().Select(j => $"{j.Id} {j.Status} {j.Message}")));

            // The operator's "backup now", from the CLI, reaches the VM through the service that runs it.
            // Application-consistent on request: the guest agent freezes the data filesystem for the cut.
            var (exit, stdout, stderr) = BackupProcess.Run(TimeSpan.FromMinutes(3), "--data", data.Root, "backup", demo.Name, "--consistency", "application");
            Assert.True(exit == 0, stderr + stdout);
            Assert.Contains("restore point", stdout, StringComparison.Ordinal);
            Assert.Contains("application-consistent", stdout, StringComparison.Ordinal);
            var api = Assert.Single(host.Catalog.ListJobs(), j => j.Trigger == "api");
            Assert.Equal(JobStatus.Succeeded, api.Status);
            applicationPoint = api.Point;

            // While the service holds the folder, a second writer is refused, naming it.
            var busy = BackupProcess.Run(TimeSpan.FromMinutes(1), "--data", data.Root, "catalog", "rebuild");
            Assert.Equal(1, busy.ExitCode);
            Assert.Contains("in use by", busy.StdErr, StringComparison.Ordinal);
            Assert.Contains("backup serve", busy.StdErr, StringComparison.Ordinal);
            points = host.Catalog.ListPoints(demo.Name);
        }

        Assert.Equal("application", points.Single(p => p.Id == applicationPoint).Consistency);
        var first = points[0];
        var second = points[1];
        Assert.Null(first.Parent);
        Assert.Equal(first.Id, second.Parent);
        Assert.Equal("crash", second.Consistency);
        Assert.True(second.HasMemoryState);
        Assert.True(second.ChangedBytes < second.DiskBytes / 4, $"the incremental read {second.ChangedBytes} of {second.DiskBytes} bytes");
        Assert.True(second.StoredBytes < first.StoredBytes, $"the incremental uploaded {second.StoredBytes} bytes, the full {first.StoredBytes}");

        // The repository is the source of truth: it holds every point the catalog lists, all readable and intact.
        using var repo = await new RepositoryAccess(data).OpenAsync(repository, passphrase);
        var listed = await repo.ListPointsAsync();
        Assert.All(points, p => Assert.Contains(listed, l => l.Id == p.Id && l.Problem is null));
        Assert.True((await repo.VerifyAsync()).IsHealthy);

        // The service stopped the VM cleanly: its change tracking stays trusted for the next run.
        Assert.Null(DataFolderLockHolder(data));
    }

    private static string? DataFolderLockHolder(Backup.Service.Data.ApplianceData data)
    {
        using var held = Backup.Service.Data.DataFolderLock.TryAcquire(data, "test", out string holder);
        return held is null ? holder : null;
    }
}
