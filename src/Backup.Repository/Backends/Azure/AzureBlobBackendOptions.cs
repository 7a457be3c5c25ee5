namespace Backup.Repository.Backends.Azure;

/// <summary>
/// Where and how <see cref="AzureBlobBackend"/> reaches its container. An unset connection string comes from the
/// <c>AZURE_STORAGE_CONNECTION_STRING</c> environment variable.
/// </summary>
public sealed record AzureBlobBackendOptions
{
    /// <summary>The container; it must exist.</summary>
    public required string Container { get; init; }

    /// <summary>Blob name prefix inside the container ("" for the root); a trailing '/' is implied.</summary>
    public string Prefix { get; init; } = string.Empty;

    /// <summary>Storage connection string (default: <c>AZURE_STORAGE_CONNECTION_STRING</c>).</summary>
    public string? ConnectionString { get; init; }

    /// <summary>Objects of at least this many bytes are uploaded as staged blocks (default 16 MiB).</summary>
    public int StagedUploadThreshold { get; init; } = 16 * 1024 * 1024;

    /// <summary>Block size of staged uploads (default 8 MiB).</summary>
    public int BlockSize { get; init; } = 8 * 1024 * 1024;

    /// <summary>Blocks staged at once (default 4).</summary>
    public int BlockConcurrency { get; init; } = 4;

    /// <summary>Blobs per LIST page (1–5000, default 5000).</summary>
    public int ListPageSize { get; init; } = 5000;

    /// <summary>Network timeout of one request (default 5 minutes).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromMinutes(5);
}
