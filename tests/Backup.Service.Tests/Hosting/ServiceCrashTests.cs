using Backup.Service.Catalog;
using Backup.Service.Repositories;
using Backup.Service.Tests.Support;

namespace Backup.Service.Tests.Hosting;

/// <summary>
/// A crash of the appliance in the middle of a backup (SIGKILL of `backup serve`): the repository stays valid with no
/// half-written restore point, and the next start marks the job interrupted, removes its leftovers and backs up again.
/// </summary>
public sealed class ServiceCrashTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(4);
    private readonly string _dir = Directory.CreateTempSubdirectory("crash-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Killing_the_service_during_a_backup_leaves_the_repository_valid_and_the_next_run_succeeds()
    {
        var (data, demo) = Appliance.WithDemoVm(_dir, autostart: true);
        string policies = Path.Combine(_dir, "policies");
        Directory.CreateDirectory(policies);
        File.WriteAllText(Path.Combine(policies, "fast.yaml"), $"""
            name: fast
            vms: [{demo.Name}]
            schedule: "0/10 * * * * ?"
            repository: repository
            passphrase: none
            """);

        using (var service = ServiceProcess.Start("--data", data.Root, "serve", "--policies", policies))
        {
            await service.WaitForAsync(Patience, "backup job 1 of demo started");
            await Task.Delay(TimeSpan.FromMilliseconds(400)); // mid-way: the first (full) backup takes seconds
            Assert.False(service.HasExited, service.Log);
            service.Kill();
            Assert.DoesNotContain("committed restore point", service.Log, StringComparison.Ordinal);
        }

        // The crash left the job "running", but no restore point: the repository commits a point by its manifest, last.
        using (var catalog = ApplianceCatalog.Open(data.CatalogPath))
        {
            Assert.Equal(JobStatus.Running, catalog.ListJobs().Single().Status);
        }

        using (var repository = await new RepositoryAccess(data).OpenAsync("repository", RepositoryAccess.DefaultPassphrase))
        {
            Assert.Empty(await repository.ListPointsAsync());
            var report = await repository.VerifyAsync();
            Assert.True(report.IsHealthy, string.Join("; ", report.DamagedObjects.Select(d => d.ToString())));
        }

        using (var service = ServiceProcess.Start("--data", data.Root, "serve", "--policies", policies))
        {
            await service.WaitForAsync(Patience, "job 1", "marked interrupted");
            await service.WaitForAsync(Patience, "committed restore point");
            Assert.Equal(0, service.Terminate(TimeSpan.FromMinutes(1)));
        }

        using (var catalog = ApplianceCatalog.Open(data.CatalogPath))
        {
            var jobs = catalog.ListJobs();
            Assert.Equal(JobStatus.Interrupted, jobs.Single(j => j.Id == 1).Status);
            Assert.Contains(jobs, j => j.Status == JobStatus.Succeeded && j.Point is not null);
            Assert.DoesNotContain(jobs, j => j.Status == JobStatus.Running);
        }

        Assert.Empty(Directory.EnumerateFiles(data.WorkDirectory));
        using (var repository = await new RepositoryAccess(data).OpenAsync("repository", RepositoryAccess.DefaultPassphrase))
        {
            var points = await repository.ListPointsAsync();
            Assert.NotEmpty(points);
            Assert.All(points, p => Assert.Null(p.Problem));
            Assert.True((await repository.VerifyAsync()).IsHealthy);
        }
    }
}
