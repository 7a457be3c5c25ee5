namespace Backup.Repository.Writing;

/// <summary>What a backup wrote: bytes read from the sources, new versus already stored chunks, bytes uploaded.</summary>
public sealed record WriteStatistics
{
    /// <summary>Bytes read from the sources (disks, streams, configuration).</summary>
    public long BytesRead { get; init; }

    /// <summary>Disk bytes not read because changed-block information showed them equal to the parent's.</summary>
    public long BytesSkipped { get; init; }

    public long ZeroChunks { get; init; }

    public long NewBlobs { get; init; }

    public long NewBlobBytes { get; init; }

    public long DuplicateBlobs { get; init; }

    public long UploadedBytes { get; init; }

    public int UploadedObjects { get; init; }
}
