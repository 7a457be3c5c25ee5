using Backup.Repository.Crypto;

namespace Backup.Repository.Configuration;

/// <summary>Choices made when a repository is created.</summary>
public sealed record RepositoryOptions
{
    /// <summary>Fixed disk chunk size (power of two, default 256 KiB — see format §10).</summary>
    public int DiskChunkSize { get; init; } = 256 * 1024;

    /// <summary>Content-defined chunking of streams: minimum, average (power of two) and maximum chunk length.</summary>
    public int StreamChunkMin { get; init; } = 64 * 1024;

    public int StreamChunkAverage { get; init; } = 256 * 1024;

    public int StreamChunkMax { get; init; } = 1024 * 1024;

    /// <summary>Pack target size (default 16 MiB).</summary>
    public int PackTargetSize { get; init; } = 16 * 1024 * 1024;

    /// <summary>Argon2id cost of the first key file.</summary>
    public KdfParameters Kdf { get; init; } = KdfParameters.Default;
}
