using System.Buffers.Binary;
using System.Text.RegularExpressions;
using Backup.Cli.Tests.Commands;
using Backup.Service.Catalog;
using Backup.Service.Data;
using Backup.Service.Tests.Support;

namespace Backup.Service.Tests.Hosting;

/// <summary>
/// An unclean stop of the appliance once change tracking is trusted (SIGKILL of `backup serve` while the VM runs and
/// writes): the disks' sidecars stay marked "in use", so after the restart the next backup reads every disk in full
/// and says why (in its output, its job row and `backup jobs`), and the backup after that is incremental again.
/// </summary>
public sealed partial class UncleanStopTests : IDisposable
{
    private const int SidecarStateOffset = 16; // docs/disk-state.md: u32 state, 1 = clean, 2 = in use
    private const uint InUse = 2;
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(4);
    private readonly string _dir = Directory.CreateTempSubdirectory("unclean-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task After_the_service_is_killed_the_next_backup_reads_every_disk_saying_why_and_the_one_after_is_incremental()
    {
        var (data, demo) = Appliance.WithDemoVm(_dir, autostart: true);
        string d = data.Root;
        string first, second;
        using (var service = ServiceProcess.Start("--data", d, "serve"))
        {
            await service.WaitForAsync(Patience, "VM demo started");
            await WaitForReadyAsync(data, times: 1);
            first = PointOf(Backup(d, "first"));
            await Task.Delay(TimeSpan.FromSeconds(2)); // the guest's database keeps writing its disk
            string incremental = Backup(d, "second");
            Assert.DoesNotContain("read in full", incremental, StringComparison.Ordinal); // tracking is trusted
            Assert.Contains($"incremental to: {first}", incremental, StringComparison.Ordinal);
            second = PointOf(incremental);

            await Task.Delay(TimeSpan.FromSeconds(1)); // more writes, then the power cut
            service.Kill();
        }

        for (int i = 0; i < demo.Disks.Count; i++)
        {
            var sidecar = File.ReadAllBytes(Path.Combine(data.VmStateDirectory(demo.Name), $"disk{i}.cbt"));
            Assert.Equal(InUse, BinaryPrimitives.ReadUInt32LittleEndian(sidecar.AsSpan(SidecarStateOffset)));
        }

        string third, fourth;
        using (var service = ServiceProcess.Start("--data", d, "serve"))
        {
            await service.WaitForAsync(Patience, "VM demo started");
            await WaitForReadyAsync(data, times: 2);
            string full = Backup(d, "after the restart");
            third = PointOf(full);
            Assert.Contains($"incremental to: {second}", full, StringComparison.Ordinal); // still deduplicated against the chain
            Assert.Equal(demo.Disks.Count, UncleanFullRead().Count(full));
            Assert.Contains("read in full: disk0:", full, StringComparison.Ordinal);
            Assert.Contains("read in full: disk1:", full, StringComparison.Ordinal);

            await Task.Delay(TimeSpan.FromSeconds(2));
            string after = Backup(d, "fourth");
            Assert.DoesNotContain("read in full", after, StringComparison.Ordinal);
            Assert.Contains($"incremental to: {third}", after, StringComparison.Ordinal);
            fourth = PointOf(after);
            Assert.Equal(0, service.Terminate(TimeSpan.FromMinutes(1)));
        }

        // The job history says why the third backup read everything, and the fourth did not.
        var jobs = BackupProcess.Run(Patience, "--data", d, "jobs", demo.Name);
        Assert.Equal(0, jobs.ExitCode);
        Assert.Equal(demo.Disks.Count, UncleanFullRead().Count(jobs.StdOut));
        using var catalog = ApplianceCatalog.Open(data.CatalogPath);
        var byPoint = catalog.ListJobs().Where(j => j.Point is not null).ToDictionary(j => j.Point!);
        Assert.Matches(UncleanFullRead(), byPoint[third].Message);
        Assert.DoesNotContain("read in full", byPoint[fourth].Message, StringComparison.Ordinal);
        Assert.Equal([first, second, third, fourth], catalog.ListPoints(demo.Name).Select(p => p.Id));
        var points = catalog.ListPoints(demo.Name);
        Assert.True(points[3].ChangedBytes < points[2].ChangedBytes / 4, $"incremental after the full read: {points[3].ChangedBytes} of {points[2].ChangedBytes} bytes");
    }

    private static string Backup(string data, string which)
    {
        var (exit, stdout, stderr) = BackupProcess.Run(Patience, "--data", data, "backup", "demo");
        Assert.True(exit == 0, $"{which} backup: exit {exit}\n{stdout}{stderr}");
        Assert.Contains("through the appliance service", stderr, StringComparison.Ordinal); // of the running VM, not cold
        return stdout;
    }

    private static string PointOf(string output) => Committed().Match(output) is { Success: true } m ? m.Groups[1].Value : throw new InvalidOperationException(output);

    private static async Task WaitForReadyAsync(ApplianceData data, int times) =>
        await Appliance.WaitUntilAsync(() => File.Exists(data.VmConsoleLog("demo"))
            && Regex.Count(File.ReadAllText(data.VmConsoleLog("demo")), "guest: ready") >= times, Patience, () => File.ReadAllText(data.VmConsoleLog("demo")));

    // "read in full: disk0: ..." (backup output) or "disk0 read in full: ..." (job message), one per disk.
    [GeneratedRegex(@"(?:read in full: disk\d:|disk\d read in full:) .*?was still marked in use: the appliance or VM stopped without closing the disk cleanly")]
    private static partial Regex UncleanFullRead();

    [GeneratedRegex(@"restore point (\S+) of demo committed")]
    private static partial Regex Committed();
}
