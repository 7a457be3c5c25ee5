using Backup.Engine.Backups;
using Backup.Engine.Running;
using Backup.Engine.Tests.Support;
using Backup.Repository;
using Backup.Repository.Backends.Local;
using Backup.Repository.Configuration;
using Backup.Repository.Crypto;

namespace Backup.Engine.Tests.Backups;

/// <summary>
/// The VM definition's changed-block granularity reaches every disk the engine tracks: a running VM's disks and
/// sidecars use it, its incrementals read only changed blocks of that size, and changing it makes the next backup
/// read the affected disk in full, saying why, then incremental again.
/// </summary>
public sealed class ChangeTrackingGranularityTests : IDisposable
{
    private const int VmGranularity = 256 << 10;
    private const int DataGranularity = 1 << 20;
    private static readonly TimeSpan BootTimeout = TimeSpan.FromMinutes(3);
    private readonly string _dir = Directory.CreateTempSubdirectory("engine-cbt-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_vm_with_its_own_granularity_is_tracked_at_it_and_a_changed_granularity_means_one_full_read_with_the_reason()
    {
        using var repository = await BackupRepository.InitAsync(new LocalFolderBackend(Path.Combine(_dir, "repository")), "granularity",
            new RepositoryOptions { Kdf = new KdfParameters(1024, 1, 1) });
        var demo = DemoVm.Create(_dir);
        var definition = demo with
        {
            CbtGranularity = VmGranularity,
            Disks = [demo.Disks[0], demo.Disks[1] with { CbtGranularity = DataGranularity }],
        };
        string state = Path.Combine(_dir, "state");
        var request = new BackupRequest { WorkDirectory = Path.Combine(_dir, "work") };
        BackupResult first, second;
        using (var tap = new ConsoleTap(null))
        {
            var console = new ConsoleLines(tap);
            using var vm = ManagedVm.Boot(definition, state, tap);
            Assert.Equal([VmGranularity, DataGranularity], vm.Disks.Select(d => d.Granularity));
            await console.WaitForAsync("guest: ready", vm, BootTimeout);
            first = await VmBackupRunner.BackupAsync(vm, repository, request);
            long committed = console.LastCommitted;
            await console.WaitForAsync($"committed seq {(committed / 10 + 1) * 10}\n", vm, BootTimeout); // the database writes its disk meanwhile
            second = await VmBackupRunner.BackupAsync(vm, repository, request);
        }

        Assert.Equal(VmGranularity, SidecarGranularity(Path.Combine(state, "disk0.cbt")));
        Assert.Equal(DataGranularity, SidecarGranularity(Path.Combine(state, "disk1.cbt")));
        Assert.Equal(first.PointId, second.ParentId);
        Assert.All(second.Disks, d => Assert.Null(d.FullReadReason));
        var data = second.Disks[1];
        Assert.True(data.ChangedBytes > 0 && data.ChangedBytes < data.Length / 2, $"data disk: {data.ChangedBytes} of {data.Length} bytes changed");
        Assert.Equal(0, data.ChangedBytes % DataGranularity); // whole 1 MiB blocks
        Assert.Equal(0, second.Disks[0].ChangedBytes % VmGranularity);

        // The data disk now follows the VM's 256 KiB: its map of 1 MiB blocks cannot say which 256 KiB blocks changed.
        var changed = definition with { Disks = [definition.Disks[0], definition.Disks[1] with { CbtGranularity = null }] };
        var third = await VmBackupRunner.BackupStoppedAsync(changed, state, repository);
        Assert.Null(third.Disks[0].FullReadReason);
        Assert.Contains($"{DataGranularity}-byte blocks but {VmGranularity}-byte blocks are configured", third.Disks[1].FullReadReason, StringComparison.Ordinal);
        Assert.Equal(third.Disks[1].Length, third.Disks[1].ChangedBytes);
        Assert.Equal(VmGranularity, SidecarGranularity(Path.Combine(state, "disk1.cbt")));

        var fourth = await VmBackupRunner.BackupStoppedAsync(changed, state, repository);
        Assert.Equal(third.PointId, fourth.ParentId);
        Assert.All(fourth.Disks, d => Assert.True(d.FullReadReason is null && d.ChangedBytes == 0, $"{d.Name}: {d.ChangedBytes} bytes, {d.FullReadReason}"));
    }

    [Fact]
    public void A_definition_with_a_bad_granularity_is_refused_before_any_disk_is_opened()
    {
        var demo = DemoVm.Create(_dir);
        string state = Path.Combine(_dir, "state");
        var bad = demo with { Disks = [demo.Disks[0], demo.Disks[1] with { CbtGranularity = 100_000 }] };
        using var tap = new ConsoleTap(null);
        var refused = Assert.Throws<ArgumentException>(() => ManagedVm.Boot(bad, state, tap));
        Assert.Contains("disk 1", refused.Message, StringComparison.Ordinal);
        Assert.Contains("not a power of two", refused.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(state, "disk0.cbt")));
    }

    /// <summary>The granularity field of a sidecar (docs/disk-state.md, offset 20).</summary>
    private static int SidecarGranularity(string path)
    {
        var header = File.ReadAllBytes(path);
        Assert.Equal("BDCBTMAP"u8.ToArray(), header[..8]);
        return (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(20));
    }
}
