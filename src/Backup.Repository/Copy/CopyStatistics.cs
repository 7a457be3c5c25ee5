namespace Backup.Repository.Copy;

/// <summary>What a copy moved: points copied or already present, chunks read from the source, chunks uploaded.</summary>
public sealed record CopyStatistics
{
    public int PointsCopied { get; init; }

    /// <summary>Points the target already had (same id), skipped.</summary>
    public int PointsSkipped { get; init; }

    /// <summary>Chunks whose target id was found without reading them (unchanged since a parent already in the target).</summary>
    public long ChunksMapped { get; init; }

    /// <summary>Chunks read and decrypted from the source (to compute their id under the target's key).</summary>
    public long ChunksRead { get; init; }

    /// <summary>Chunks the target lacked: re-encrypted under the target's key and uploaded.</summary>
    public long ChunksUploaded { get; init; }

    public long BytesRead { get; init; }

    public long BytesUploaded { get; init; }
}
