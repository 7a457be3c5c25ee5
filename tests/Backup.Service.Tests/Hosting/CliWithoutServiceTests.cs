using Backup.Cli.Tests.Commands;
using Backup.Service.Catalog;
using Backup.Service.Hosting;
using Backup.Service.Scheduling;
using Backup.Service.Tests.Support;
using Microsoft.Data.Sqlite;

namespace Backup.Service.Tests.Hosting;

/// <summary>
/// The CLI on a data folder with no service: it takes the folder's lock and backs the stopped VM up cold, lists,
/// restores and rebuilds the catalog from the repository; malformed policies are refused at start with file and
/// line; a run missed while the appliance was down runs once at the next start.
/// </summary>
public sealed class CliWithoutServiceTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);
    private readonly string _dir = Directory.CreateTempSubdirectory("cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_stopped_vm_is_backed_up_cold_listed_restored_byte_identical_and_the_catalog_rebuilt_from_the_repository()
    {
        var (data, demo) = Appliance.WithDemoVm(_dir, autostart: false);
        string d = data.Root;

        var backup = BackupProcess.Run(Timeout, "--data", d, "backup", demo.Name);
        Assert.True(backup.ExitCode == 0, backup.StdErr + backup.StdOut);
        Assert.Contains("cold-consistent", backup.StdOut, StringComparison.Ordinal);
        var again = BackupProcess.Run(Timeout, "--data", d, "backup", demo.Name);
        Assert.True(again.ExitCode == 0, again.StdErr);
        Assert.Contains("0 B of", again.StdOut, StringComparison.Ordinal); // nothing changed on the stopped VM's disks

        var points = BackupProcess.Run(Timeout, "--data", d, "points", demo.Name);
        Assert.Equal(0, points.ExitCode);
        string[] ids = points.StdOut.Split('\n').Skip(1).Where(l => l.Length > 0).Select(l => l.Split(' ')[0]).ToArray();
        Assert.Equal(2, ids.Length);

        string restored = Path.Combine(_dir, "data1.img");
        var restore = BackupProcess.Run(Timeout, "--data", d, "restore", ids[1], "--to", restored, "--disk", "1");
        Assert.True(restore.ExitCode == 0, restore.StdErr);
        Assert.Equal(File.ReadAllBytes(demo.Disks[1].Path), File.ReadAllBytes(restored));
        var refused = BackupProcess.Run(Timeout, "--data", d, "restore", ids[1], "--to", restored);
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("--force", refused.StdErr, StringComparison.Ordinal);
        var noResume = BackupProcess.Run(Timeout, "--data", d, "recover", ids[1], "--resume", "--exit-when-ready");
        Assert.Equal(2, noResume.ExitCode);
        Assert.Contains("no memory state", noResume.StdErr, StringComparison.Ordinal);

        File.Delete(data.CatalogPath);
        var rebuild = BackupProcess.Run(Timeout, "--data", d, "catalog", "rebuild");
        Assert.True(rebuild.ExitCode == 0, rebuild.StdErr);
        using var catalog = ApplianceCatalog.Open(data.CatalogPath);
        Assert.Equal(ids, catalog.ListPoints(demo.Name).Select(p => p.Id));
        Assert.All(catalog.ListPoints(), p => Assert.Equal("cold", p.Consistency));
    }

    [Fact]
    public void A_malformed_policy_is_refused_at_start_with_its_file_and_line()
    {
        var (data, _) = Appliance.WithDemoVm(_dir, autostart: false);
        string policies = Path.Combine(_dir, "policies");
        Directory.CreateDirectory(policies);
        string file = Path.Combine(policies, "broken.yaml");
        File.WriteAllText(file, "name: broken\nvms: [demo]\nschedule: \"every day\"\nrepository: repository\n");
        var result = BackupProcess.Run(Timeout, "--data", data.Root, "serve", "--policies", policies);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"{file}:3:", result.StdErr, StringComparison.Ordinal);
        Assert.False(File.Exists(data.SocketPath));
    }

    [Fact]
    public async Task A_run_missed_while_the_appliance_was_down_runs_once_at_start()
    {
        var (data, demo) = Appliance.WithDemoVm(_dir, autostart: false);
        using (var catalog = ApplianceCatalog.Open(data.CatalogPath))
        {
            long old = catalog.StartJob("backup", demo.Name, "nightly", "schedule");
            catalog.FinishJob(old, JobStatus.Succeeded, "an old run");
        }

        using (var connection = new SqliteConnection($"Data Source={data.CatalogPath};Pooling=false"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "UPDATE jobs SET started = '2026-01-01T00:00:00.0000000Z'";
            command.ExecuteNonQuery();
        }

        var policies = Path.Combine(_dir, "policies");
        Directory.CreateDirectory(policies);
        File.WriteAllText(Path.Combine(policies, "nightly.yaml"), $"""
            name: nightly
            vms: [{demo.Name}]
            schedule: "0 0 3 * * ?"
            repository: repository
            passphrase: none
            """);
        var plans = PolicyPlans.Load(policies, data, required: true);
        await using var host = await ApplianceHost.StartAsync(new ServiceOptions { Data = data, Plans = plans });
        await Appliance.WaitUntilAsync(() => host.Catalog.ListJobs().Any(j => j.Trigger == "missed run" && j.Status != JobStatus.Running), Timeout,
            () => string.Join("\n", host.Catalog.ListJobs().Select(j => $"{j.Id} {j.Trigger} {j.Status} {j.Message}")));
        var missed = host.Catalog.ListJobs().Where(j => j.Trigger == "missed run").ToList();
        Assert.Single(missed);
        Assert.Equal(JobStatus.Succeeded, missed[0].Status);
        Assert.Single(host.Catalog.ListPoints(demo.Name));
    }
}
