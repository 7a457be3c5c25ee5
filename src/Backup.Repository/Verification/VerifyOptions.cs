namespace Backup.Repository.Verification;

/// <summary>How much verify reads.</summary>
public sealed record VerifyOptions
{
    /// <summary>
    /// Percentage of packs (chosen at random) that are downloaded, hashed and whose every blob is authenticated
    /// (100 = full verify). The other packs are only checked to exist with the indexed size; every manifest and chunk
    /// map is still read and every reference checked against the index.
    /// </summary>
    public double SamplePercent { get; init; } = 100;

    /// <summary>Bytes of packs read so far.</summary>
    public IProgress<long>? Progress { get; init; }
}
