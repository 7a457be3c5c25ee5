namespace Backup.Repository.Writing;

/// <summary>
/// How one disk was written: how many bytes were read from the source and how many were skipped because the
/// changed-block information said they equal the base point's; <see cref="FullReadReason"/> says why the whole disk was
/// read (null when the write was incremental).
/// </summary>
public sealed record DiskWriteResult
{
    public string Name { get; init; } = string.Empty;

    /// <summary>Disk length in bytes.</summary>
    public long Length { get; init; }

    /// <summary>Bytes read from the source.</summary>
    public long BytesRead { get; init; }

    /// <summary>Bytes not read: their chunks were taken from the base point.</summary>
    public long BytesSkipped { get; init; }

    /// <summary>Chunks read from the source.</summary>
    public long ChunksRead { get; init; }

    /// <summary>Chunks taken from the base point without reading.</summary>
    public long ChunksReused { get; init; }

    /// <summary>Chunks read whose content was not in the repository yet (stored by this write); the others deduplicated.</summary>
    public long ChunksNew { get; init; }

    /// <summary>True when only changed chunks were read.</summary>
    public bool Incremental => FullReadReason is null;

    /// <summary>Why every chunk was read; null for an incremental write.</summary>
    public string? FullReadReason { get; init; }

    /// <summary>The tracking tag recorded on the disk, if any.</summary>
    public string? TrackingTag { get; init; }
}
