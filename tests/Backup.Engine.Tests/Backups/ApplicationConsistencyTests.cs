using Backup.Engine.Backups;
using Backup.Engine.Running;
using Backup.Engine.Tests.Support;
using Backup.Hypervisor.Agent;
using Backup.Repository;
using Backup.Repository.Backends.Local;
using Backup.Repository.Configuration;
using Backup.Repository.Crypto;

namespace Backup.Engine.Tests.Backups;

/// <summary>
/// Application-consistent backups that cannot freeze, on the real guest: the cut is crash-consistent and the reason is
/// on the backup result and in the restore point's configuration. A freeze the agent answers too late must not leave
/// the guest's data file system frozen after the backup.
/// </summary>
public sealed class ApplicationConsistencyTests : IDisposable
{
    private static readonly TimeSpan BootTimeout = TimeSpan.FromMinutes(3);
    private static readonly TimeSpan AgentTimeout = TimeSpan.FromSeconds(30);
    private readonly string _dir = Directory.CreateTempSubdirectory("engine-app-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_freeze_answered_too_late_gives_a_crash_consistent_point_saying_why_and_the_guest_is_thawed_after()
    {
        using var repository = await Repository();
        using var tap = new ConsoleTap(null);
        var console = new ConsoleLines(tap);
        using var vm = ManagedVm.Boot(DemoVm.Create(_dir), Path.Combine(_dir, "state"), tap);
        await console.WaitForAsync("guest: ready", vm, BootTimeout);
        var agent = vm.Machine.Agent!;
        await agent.WaitUntilReadyAsync(AgentTimeout);

        // 1 ms: the agent cannot answer in time, but it still receives the freeze and carries it out afterwards.
        var result = await VmBackupRunner.BackupAsync(vm, repository, new BackupRequest
        {
            Consistency = BackupConsistency.Application,
            AgentTimeout = TimeSpan.FromMilliseconds(1),
            WorkDirectory = Path.Combine(_dir, "work"),
        });
        Assert.Equal("crash", result.Consistency);
        Assert.Contains("did not answer 'freeze'", result.ConsistencyNote, StringComparison.Ordinal);
        Assert.Contains("the checkpoint is crash-consistent", result.ConsistencyNote, StringComparison.Ordinal);
        var stored = await PointReading.ReadConfigurationAsync(repository, result.PointId);
        Assert.Equal(("crash", result.ConsistencyNote), (stored!.Consistency, stored.ConsistencyNote));

        // The agent answers in order; had the late freeze been left in place, this would be "err /data is frozen (thaw first)".
        var check = await agent.CheckAsync("db", AgentTimeout);
        Assert.True(check.Healthy, check.Raw);
        var thawAgain = await Assert.ThrowsAsync<GuestAgentException>(() => agent.ThawAsync(AgentTimeout));
        Assert.Contains("Invalid argument", thawAgain.Message, StringComparison.Ordinal); // nothing is frozen
    }

    [Fact]
    public async Task A_vm_without_an_agent_channel_is_cut_crash_consistent_saying_why()
    {
        using var repository = await Repository();
        using var tap = new ConsoleTap(null);
        var console = new ConsoleLines(tap);
        using var vm = ManagedVm.Boot(DemoVm.Create(_dir) with { AgentChannel = false }, Path.Combine(_dir, "state"), tap);
        await console.WaitForAsync("guest: ready", vm, BootTimeout);
        var result = await VmBackupRunner.BackupAsync(vm, repository, new BackupRequest
        {
            Consistency = BackupConsistency.Application,
            WorkDirectory = Path.Combine(_dir, "work"),
        });
        Assert.Equal("crash", result.Consistency);
        Assert.Contains("no guest-agent channel", result.ConsistencyNote, StringComparison.Ordinal);
        Assert.Equal(result.ConsistencyNote, (await PointReading.ReadConfigurationAsync(repository, result.PointId))!.ConsistencyNote);
    }

    private Task<BackupRepository> Repository() =>
        BackupRepository.InitAsync(new LocalFolderBackend(Path.Combine(_dir, "repository")), "application", new RepositoryOptions { Kdf = new KdfParameters(1024, 1, 1) });
}
