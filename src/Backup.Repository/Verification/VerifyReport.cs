namespace Backup.Repository.Verification;

/// <summary>The outcome of <see cref="BackupRepository.VerifyAsync"/>.</summary>
public sealed record VerifyReport
{
    /// <summary>Packs downloaded and fully checked.</summary>
    public int PacksChecked { get; init; }

    /// <summary>Packs in the index (those not sampled were only checked to exist with the right size).</summary>
    public int PacksTotal { get; init; }

    /// <summary>Percentage of packs sampled (100 = full verify).</summary>
    public double SamplePercent { get; init; } = 100;

    public long BlobsChecked { get; init; }

    public long BytesRead { get; init; }

    public int PointsChecked { get; init; }

    public IReadOnlyList<DamagedObject> DamagedObjects { get; init; } = [];

    public IReadOnlyList<DamagedPoint> DamagedPoints { get; init; } = [];

    /// <summary>True when nothing is damaged.</summary>
    public bool IsHealthy => DamagedObjects.Count == 0 && DamagedPoints.Count == 0;
}
