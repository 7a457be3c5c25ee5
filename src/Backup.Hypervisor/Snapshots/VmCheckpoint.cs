using Backup.Disks.Snapshots;

namespace Backup.Hypervisor.Snapshots;

/// <summary>
/// A checkpoint being (or having been) written: the cut is taken when this object exists; the RAM pages are
/// still being copied in the background until <see cref="Completion"/> finishes, while the VM runs on.
/// </summary>
public sealed class VmCheckpoint
{
    internal VmCheckpoint(VmStateHeader header, string path, TimeSpan stunTime, TimeSpan diskCutTime, long pagesToSave, Task<long> completion, IReadOnlyList<DiskSnapshot?> disks)
    {
        DiskCutTime = diskCutTime;
        Disks = disks;
        Header = header;
        Path = path;
        StunTime = stunTime;
        PagesToSave = pagesToSave;
        Completion = completion;
    }

    public VmStateHeader Header { get; }

    /// <summary>Crash- or application-consistent (see <see cref="ConsistencyNote"/> for why, when it fell back).</summary>
    public CheckpointConsistency Consistency { get; internal set; } = CheckpointConsistency.CrashConsistent;

    /// <summary>Why an application-consistent checkpoint was not possible, or null.</summary>
    public string? ConsistencyNote { get; internal set; }

    public Guid Id => Header.Id;

    /// <summary>The checkpoint this one is incremental to, or <see cref="Guid.Empty"/> for a full one.</summary>
    public Guid ParentId => Header.ParentId;

    public string Path { get; }

    /// <summary>
    /// How long the guest was paused to take the cut: from the moment the VM thread stopped running guest code for it
    /// until the harts could run again, disk snapshots included (creating the file is done before, while the guest runs).
    /// </summary>
    public TimeSpan StunTime { get; }

    /// <summary>The part of <see cref="StunTime"/> spent cutting the disks' snapshots.</summary>
    public TimeSpan DiskCutTime { get; }

    /// <summary>RAM pages the file will hold (dirty since the parent, or every page ever written for a full one).</summary>
    public long PagesToSave { get; }

    /// <summary>
    /// Point-in-time views of the VM's disks at the same cut, one per disk (null for a disk that is not a
    /// <see cref="TrackedDisk"/>). The caller owns them: read them (from any thread), call
    /// <see cref="DiskSnapshot.CompleteBackup"/> when their data is safely stored, and dispose them.
    /// </summary>
    public IReadOnlyList<DiskSnapshot?> Disks { get; }

    /// <summary>Finishes when the file is complete; yields the number of page records written.</summary>
    public Task<long> Completion { get; }
}
