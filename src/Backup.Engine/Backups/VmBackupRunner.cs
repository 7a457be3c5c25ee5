using System.Diagnostics;
using Backup.Disks.ChangeTracking;
using Backup.Disks.Snapshots;
using Backup.Engine.Running;
using Backup.Engine.Vms;
using Backup.Hypervisor.Snapshots;
using Backup.Repository;
using Backup.Repository.Writing;

namespace Backup.Engine.Backups;

/// <summary>
/// Backs a VM up into a repository. For a running VM: a checkpoint cut (crash- or application-consistent) gives
/// point-in-time views of its disks and its memory and device state; the changed chunks are then written to the
/// repository while the guest keeps running; the restore point is committed (manifest last) and only then are the
/// disks' changed-block maps advanced. A failure at any step leaves no restore point and keeps the changes pending,
/// so the next backup reads them again. A stopped VM is backed up "cold": its disks only.
/// </summary>
public static class VmBackupRunner
{
    /// <summary>Backs up a running VM. Progress reports bytes of disk read so far.</summary>
    public static Task<BackupResult> BackupAsync(ManagedVm vm, BackupRepository repository, BackupRequest request,
        IProgress<long>? progress = null, CancellationToken cancellationToken = default) =>
        BackupAsync(vm, repository, request, progress, afterCut: null, cancellationToken);

    /// <summary>As the public overload; <paramref name="afterCut"/> sees the disk views before they are written (tests).</summary>
    internal static async Task<BackupResult> BackupAsync(ManagedVm vm, BackupRepository repository, BackupRequest request,
        IProgress<long>? progress, Func<IReadOnlyList<DiskSnapshot>, Task>? afterCut, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(vm);
        ArgumentNullException.ThrowIfNull(repository);
        ArgumentNullException.ThrowIfNull(request);
        var clock = Stopwatch.StartNew();
        Directory.CreateDirectory(request.WorkDirectory);
        string statePath = Path.Combine(request.WorkDirectory, $"{vm.Name}-{Guid.NewGuid():N}{CheckpointChain.Extension}");
        VmCheckpoint? cut = null;
        try
        {
            cut = request.Consistency == BackupConsistency.Application
                ? await vm.Machine.CheckpointApplicationConsistentAsync(statePath, incremental: false, request.AgentTimeout, cancellationToken).ConfigureAwait(false)
                : await Task.Run(() => vm.Machine.Checkpoint(statePath, incremental: false), cancellationToken).ConfigureAwait(false);
            await cut.Completion.WaitAsync(cancellationToken).ConfigureAwait(false);

            var snapshots = cut.Disks.Select((snapshot, i) => snapshot ?? throw new InvalidOperationException($"disk {i} of VM '{vm.Name}' is not change-tracked")).ToArray();
            if (afterCut is not null)
            {
                await afterCut(snapshots).ConfigureAwait(false);
            }

            string consistency = cut.Consistency == CheckpointConsistency.ApplicationConsistent ? "application" : "crash";
            return await WritePointAsync(vm.Definition, repository, snapshots, statePath, consistency, cut.ConsistencyNote, cut.StunTime, clock, progress, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (cut is not null)
            {
                foreach (var snapshot in cut.Disks)
                {
                    snapshot?.Dispose();
                }
            }

            TryDelete(statePath);
        }
    }

    /// <summary>
    /// Backs up a VM that is not running: its disk images, through change tracking (state in
    /// <paramref name="stateDirectory"/>, the same folder the VM runs with), without memory state.
    /// </summary>
    public static async Task<BackupResult> BackupStoppedAsync(VmDefinition definition, string stateDirectory, BackupRepository repository,
        IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(definition);
        var clock = Stopwatch.StartNew();
        definition.Validate();
        Directory.CreateDirectory(stateDirectory);
        var files = new List<Disks.BlockDevices.RawFileDisk>();
        var tracked = new List<TrackedDisk>();
        var snapshots = new List<DiskSnapshot>();
        try
        {
            for (int i = 0; i < definition.Disks.Count; i++)
            {
                var file = Disks.BlockDevices.RawFileDisk.Open(definition.Disks[i].Path, readOnly: false);
                files.Add(file);
                var disk = TrackedDisk.Open(file, new TrackedDiskOptions
                {
                    Granularity = definition.CbtGranularityOf(i),
                    SidecarPath = Path.Combine(stateDirectory, $"disk{i}.cbt"),
                    SideStoreDirectory = Path.Combine(stateDirectory, "snapshots"),
                    LeaveInnerOpen = true,
                });
                tracked.Add(disk);
                snapshots.Add(disk.CreateSnapshot());
            }

            return await WritePointAsync(definition, repository, snapshots, null, "cold", null, TimeSpan.Zero, clock, progress, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            snapshots.ForEach(s => s.Dispose());
            tracked.ForEach(t => t.Dispose());
            files.ForEach(f => f.Dispose());
        }
    }

    private static async Task<BackupResult> WritePointAsync(VmDefinition definition, BackupRepository repository, IReadOnlyList<DiskSnapshot> snapshots,
        string? statePath, string consistency, string? note, TimeSpan stun, Stopwatch clock, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        await using var writer = await repository.BeginPointAsync(definition.Name, cancellationToken).ConfigureAwait(false);
        // Each disk's changed-block map is relative to the cut whose tracking tag the parent recorded on that disk.
        var parentTags = writer.ParentId is { } parentId
            ? (await repository.ReadManifestAsync(parentId, cancellationToken).ConfigureAwait(false)).Disks.ToDictionary(d => d.Name, d => d.TrackingTag, StringComparer.Ordinal)
            : [];
        var configuration = new PointConfiguration
        {
            Vm = definition,
            Consistency = consistency,
            ConsistencyNote = note,
            StunMilliseconds = stun.TotalMilliseconds,
            HasMemoryState = statePath is not null,
        };
        await writer.SetConfigurationAsync(configuration.ToBytes(), cancellationToken).ConfigureAwait(false);

        await using (var kernel = OpenBootFile(definition, "kernel", definition.Kernel))
        {
            await writer.AddStreamAsync(PointStreams.Kernel, kernel, cancellationToken).ConfigureAwait(false);
        }

        if (definition.Initrd is { } initrdPath)
        {
            await using var initrd = OpenBootFile(definition, "initrd", initrdPath);
            await writer.AddStreamAsync(PointStreams.Initrd, initrd, cancellationToken).ConfigureAwait(false);
        }

        long before = 0;
        var disks = new List<DiskBackupResult>();
        for (int i = 0; i < snapshots.Count; i++)
        {
            var snapshot = snapshots[i];
            var map = snapshot.ChangedBlocks;
            string? parentTag = parentTags.GetValueOrDefault(PointStreams.Disk(i));
            string? fullReason = map.AllBlocks ? map.Reason ?? "change tracking is not trusted"
                : writer.ParentId is null ? "this is the VM's first restore point in this repository"
                : parentTag != DiskChanges.TrackingTagOf(map.TrackingId, map.SinceGeneration) ? $"the latest restore point ({writer.ParentId}) is not the base of this disk's changed-block map"
                : null;
            long offset = before;
            var diskProgress = progress is null ? null : new Progress<long>(bytes => progress.Report(offset + bytes));
            string tag = DiskChanges.TrackingTagOf(map.TrackingId, map.Generation);
            var changes = fullReason is null
                ? DiskChanges.FromChangedBlockMap(writer.ParentId, map, tag)
                : new DiskChanges(null, [], tag) { AllChangedReason = fullReason };
            var written = await writer.AddDiskAsync(PointStreams.Disk(i), snapshot, changes, diskProgress, cancellationToken).ConfigureAwait(false);
            before += snapshot.Length;
            string? reason = written.FullReadReason;
            long changedBytes = reason is null ? map.ChangedExtents().Sum(e => e.Length) : snapshot.Length;
            disks.Add(new DiskBackupResult(PointStreams.Disk(i), snapshot.Length, changedBytes, reason));
        }

        if (statePath is not null)
        {
            await using var state = new FileStream(statePath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
            await writer.AddStreamAsync(PointStreams.MemoryState, state, cancellationToken).ConfigureAwait(false);
        }

        var manifest = await writer.CommitAsync(cancellationToken).ConfigureAwait(false);

        // Only now is the data safe: advance each disk's changed-block base to this cut.
        foreach (var snapshot in snapshots)
        {
            snapshot.CompleteBackup();
        }

        return new BackupResult
        {
            PointId = manifest.Id,
            Vm = definition.Name,
            Time = manifest.Time,
            ParentId = manifest.Parent,
            Consistency = consistency,
            ConsistencyNote = note,
            Stun = stun,
            HasMemoryState = statePath is not null,
            Disks = disks,
            Statistics = writer.Statistics,
            Duration = clock.Elapsed,
        };
    }

    private static FileStream OpenBootFile(VmDefinition definition, string what, string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"VM '{definition.Name}': cannot read its {what} '{path}': {e.Message}", e);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A leftover checkpoint file in the work folder is removed by the next start's clean-up.
        }
    }
}
