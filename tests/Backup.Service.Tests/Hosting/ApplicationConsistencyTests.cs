using Backup.Cli.Tests.Commands;
using Backup.Service.Catalog;
using Backup.Service.Hosting;
using Backup.Service.Tests.Support;

namespace Backup.Service.Tests.Hosting;

/// <summary>
/// Application-consistent backups when the guest agent answers an error to `freeze` (the data file system is already
/// frozen, by an operator inside the guest): the cut is taken crash-consistent, the backup does not thaw what it did not
/// freeze, and the reason reaches every place an operator looks: the `backup backup` output, the job row and
/// `backup jobs`, the catalog's point and `backup points`, and (from the point's configuration in the repository) a
/// rebuilt catalog. A later application-consistent backup, with the agent able to freeze, carries no note.
/// </summary>
public sealed class ApplicationConsistencyTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(4);
    private static readonly TimeSpan AgentTimeout = TimeSpan.FromSeconds(30);
    private readonly string _dir = Directory.CreateTempSubdirectory("appcons-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_freeze_the_agent_refuses_gives_a_crash_consistent_point_whose_reason_reaches_output_jobs_points_and_a_rebuilt_catalog()
    {
        var (data, demo) = Appliance.WithDemoVm(_dir, autostart: true);
        string d = data.Root;
        string refusedPoint, frozenPoint;
        await using (var host = await ApplianceHost.StartAsync(new ServiceOptions { Data = data, RunScheduler = false }))
        {
            var vm = host.Supervisor.Find(demo.Name) ?? throw new InvalidOperationException("the demo VM did not start");
            await vm.Ready.WaitAsync(Patience);
            var agent = vm.Machine.Agent!;
            await agent.WaitUntilReadyAsync(Patience);

            // Someone already froze /data: the agent answers `err FIFREEZE /data: Resource busy` to the backup's freeze.
            await agent.FreezeAsync(AgentTimeout);
            var refused = BackupProcess.Run(Patience, "--data", d, "backup", demo.Name, "--consistency", "application");
            Assert.True(refused.ExitCode == 0, refused.StdErr + refused.StdOut);
            Has(refused.StdOut, "crash-consistent");
            Has(refused.StdOut, "note: the guest agent could not freeze the file system (");
            Has(refused.StdOut, "Resource busy");
            Has(refused.StdOut, "the checkpoint is crash-consistent");
            // The backup thawed nothing it had not frozen: the operator's freeze is still in place, so this thaw succeeds.
            await agent.ThawAsync(AgentTimeout);

            var job = host.Catalog.ListJobs(1).Single();
            Assert.Equal(JobStatus.Succeeded, job.Status);
            Has(job.Message!, "crash-consistent");
            Has(job.Message!, "could not freeze the file system");
            refusedPoint = job.Point!;
            var point = host.Catalog.FindPoint(refusedPoint);
            Assert.Equal("crash", point.Consistency);
            Has(point.ConsistencyNote!, "Resource busy");

            var frozen = BackupProcess.Run(Patience, "--data", d, "backup", demo.Name, "--consistency", "application");
            Assert.True(frozen.ExitCode == 0, frozen.StdErr + frozen.StdOut);
            Has(frozen.StdOut, "application-consistent");
            Assert.DoesNotContain("note:", frozen.StdOut, StringComparison.Ordinal);
            frozenPoint = host.Catalog.ListJobs(1).Single().Point!;
            Assert.Null(host.Catalog.FindPoint(frozenPoint).ConsistencyNote);

            var check = await agent.CheckAsync("db", AgentTimeout); // thawed after the cut: the guest's database goes on
            Assert.True(check.Healthy, check.Raw);
        }

        var points = BackupProcess.Run(Patience, "--data", d, "points", demo.Name);
        Assert.Equal(0, points.ExitCode);
        string[] lines = points.StdOut.Split('\n');
        int row = Array.FindIndex(lines, l => l.StartsWith(refusedPoint, StringComparison.Ordinal));
        Assert.True(row > 0 && lines[row].Contains(" crash ", StringComparison.Ordinal), points.StdOut);
        Has(lines[row + 1], "note: the guest agent could not freeze the file system (");
        int next = Array.FindIndex(lines, l => l.StartsWith(frozenPoint, StringComparison.Ordinal));
        Assert.True(next == row + 2 && lines[next].Contains(" application ", StringComparison.Ordinal), points.StdOut);
        Assert.Equal(1, lines.Count(l => l.Contains("note:", StringComparison.Ordinal)));

        var jobs = BackupProcess.Run(Patience, "--data", d, "jobs", demo.Name);
        Assert.Equal(0, jobs.ExitCode);
        Assert.Equal(1, jobs.StdOut.Split('\n').Count(l => l.Contains("could not freeze the file system", StringComparison.Ordinal)));

        // The repository keeps the note in the point's configuration: a rebuilt catalog shows it again.
        File.Delete(data.CatalogPath);
        var rebuild = BackupProcess.Run(Patience, "--data", d, "catalog", "rebuild");
        Assert.True(rebuild.ExitCode == 0, rebuild.StdErr);
        using var catalog = ApplianceCatalog.Open(data.CatalogPath);
        Has(catalog.FindPoint(refusedPoint).ConsistencyNote!, "Resource busy");
        Assert.Null(catalog.FindPoint(frozenPoint).ConsistencyNote);
    }

    private static void Has(string text, string expected) => Assert.True(text.Contains(expected, StringComparison.Ordinal), $"'{expected}' not in:\n{text}");
}
