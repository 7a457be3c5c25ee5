namespace Backup.Service.Catalog;

/// <summary>A restore point as the catalog knows it: where it lives and how it was made.</summary>
public sealed record PointRecord
{
    public required string Id { get; init; }

    public required string Vm { get; init; }

    public required DateTimeOffset Time { get; init; }

    /// <summary>The repository URL (folder path, s3://..., azure://...).</summary>
    public required string Repository { get; init; }

    /// <summary>Where the repository's passphrase comes from: "default" (the data folder's key), "env:VAR" or "file:PATH".</summary>
    public required string PassphraseSource { get; init; }

    public string? Parent { get; init; }

    /// <summary>"crash", "application", "cold", or null when unknown (a point found in the repository, not made here).</summary>
    public string? Consistency { get; init; }

    /// <summary>Why an application-consistent backup was cut crash-consistent (the guest agent refused or did not answer), or null.</summary>
    public string? ConsistencyNote { get; init; }

    public bool HasMemoryState { get; init; }

    public long DiskBytes { get; init; }

    public long ChangedBytes { get; init; }

    public long StoredBytes { get; init; }

    public double StunMilliseconds { get; init; }

    public string? Policy { get; init; }
}
