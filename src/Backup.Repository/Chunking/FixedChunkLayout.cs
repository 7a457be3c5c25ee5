namespace Backup.Repository.Chunking;

/// <summary>
/// Fixed, aligned chunking of a disk (format §8): chunk <c>i</c> covers bytes <c>[i·size, min((i+1)·size, length))</c>,
/// so a changed block maps to one chunk and a random read finds its chunk by division.
/// </summary>
public readonly record struct FixedChunkLayout
{
    public FixedChunkLayout(long length, int chunkSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkSize, 4096);
        if ((chunkSize & (chunkSize - 1)) != 0)
        {
            throw new ArgumentException($"chunk size {chunkSize} is not a power of two", nameof(chunkSize));
        }

        Length = length;
        ChunkSize = chunkSize;
    }

    /// <summary>Disk length in bytes.</summary>
    public long Length { get; }

    /// <summary>Chunk size in bytes (a power of two, at least 4 KiB).</summary>
    public int ChunkSize { get; }

    /// <summary>Number of chunks (the last may be short).</summary>
    public long Count => (Length + ChunkSize - 1) / ChunkSize;

    /// <summary>First byte of chunk <paramref name="index"/>.</summary>
    public long OffsetOf(long index) => index * ChunkSize;

    /// <summary>Length of chunk <paramref name="index"/>.</summary>
    public int LengthOf(long index) => (int)Math.Min(ChunkSize, Length - OffsetOf(index));

    /// <summary>The chunk holding byte <paramref name="offset"/>.</summary>
    public long IndexOf(long offset) => offset / ChunkSize;
}
