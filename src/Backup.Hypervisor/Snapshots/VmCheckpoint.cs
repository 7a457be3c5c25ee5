namespace Backup.Hypervisor.Snapshots;

/// <summary>
/// A checkpoint being (or having been) written: the cut is taken when this object exists; the RAM pages are
/// still being copied in the background until <see cref="Completion"/> finishes, while the VM runs on.
/// </summary>
public sealed class VmCheckpoint
{
    internal VmCheckpoint(VmStateHeader header, string path, TimeSpan stunTime, long pagesToSave, Task<long> completion)
    {
        Header = header;
        Path = path;
        StunTime = stunTime;
        PagesToSave = pagesToSave;
        Completion = completion;
    }

    public VmStateHeader Header { get; }

    public Guid Id => Header.Id;

    /// <summary>The checkpoint this one is incremental to, or <see cref="Guid.Empty"/> for a full one.</summary>
    public Guid ParentId => Header.ParentId;

    public string Path { get; }

    /// <summary>How long the guest was paused to take the cut.</summary>
    public TimeSpan StunTime { get; }

    /// <summary>RAM pages the file will hold (dirty since the parent, or every page ever written for a full one).</summary>
    public long PagesToSave { get; }

    /// <summary>Finishes when the file is complete; yields the number of page records written.</summary>
    public Task<long> Completion { get; }
}
