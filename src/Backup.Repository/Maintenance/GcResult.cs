namespace Backup.Repository.Maintenance;

/// <summary>What garbage collection found and did.</summary>
public sealed record GcResult
{
    public int PointsMarked { get; init; }

    public long LiveBlobs { get; init; }

    public int PacksBefore { get; init; }

    public int PacksDeleted { get; init; }

    public int PacksRepacked { get; init; }

    public int PacksWritten { get; init; }

    /// <summary>Unreferenced or partly referenced packs left alone because they are younger than the grace period.</summary>
    public int PacksInGracePeriod { get; init; }

    /// <summary>Pack objects no index lists (left by crashed sessions or an interrupted gc) that were deleted.</summary>
    public int OrphanPacksDeleted { get; init; }

    public int IndexFilesSuperseded { get; init; }

    public long BytesDeleted { get; init; }

    public long BytesWritten { get; init; }

    public bool DryRun { get; init; }
}
