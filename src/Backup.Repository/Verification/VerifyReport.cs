namespace Backup.Repository.Verification;

/// <summary>The outcome of <see cref="BackupRepository.VerifyAsync"/>.</summary>
public sealed record VerifyReport
{
    public int PacksChecked { get; init; }

    public long BlobsChecked { get; init; }

    public long BytesRead { get; init; }

    public int PointsChecked { get; init; }

    public IReadOnlyList<DamagedObject> DamagedObjects { get; init; } = [];

    public IReadOnlyList<DamagedPoint> DamagedPoints { get; init; } = [];

    /// <summary>True when nothing is damaged.</summary>
    public bool IsHealthy => DamagedObjects.Count == 0 && DamagedPoints.Count == 0;
}
