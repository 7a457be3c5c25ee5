namespace Backup.Repository.Writing;

/// <summary>What a backup wrote: bytes read from the sources, new versus already stored chunks, bytes uploaded.</summary>
public sealed record WriteStatistics
{
    public long BytesRead { get; init; }

    public long ZeroChunks { get; init; }

    public long NewBlobs { get; init; }

    public long NewBlobBytes { get; init; }

    public long DuplicateBlobs { get; init; }

    public long UploadedBytes { get; init; }

    public int UploadedObjects { get; init; }
}
