namespace Backup.Repository.Configuration;

/// <summary>The plaintext <c>config</c> object (format §2).</summary>
public sealed class RepositoryConfig
{
    /// <summary>Format name every repository carries.</summary>
    public const string FormatName = "backup-repository";

    /// <summary>The format version this client reads and writes.</summary>
    public const int CurrentVersion = 1;

    public string Format { get; init; } = FormatName;

    public int Version { get; init; } = CurrentVersion;

    /// <summary>32 hex digits, random at init.</summary>
    public string RepositoryId { get; init; } = string.Empty;

    /// <summary>Fixed chunk size for disks written by this client.</summary>
    public int DiskChunkSize { get; init; } = 256 * 1024;

    public int StreamChunkMin { get; init; } = 64 * 1024;

    public int StreamChunkAverage { get; init; } = 256 * 1024;

    public int StreamChunkMax { get; init; } = 1024 * 1024;

    /// <summary>A pack is closed when it reaches this size.</summary>
    public int PackTargetSize { get; init; } = 16 * 1024 * 1024;

    public DateTimeOffset Created { get; init; }
}
