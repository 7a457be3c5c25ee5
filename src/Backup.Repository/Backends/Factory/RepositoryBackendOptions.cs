using Backup.Repository.Backends.Resilience;
using Backup.Repository.Backends.S3;

namespace Backup.Repository.Backends.Factory;

/// <summary>
/// Settings for <see cref="RepositoryBackendFactory.Create"/> that do not belong in a repository URL (secrets) or
/// override the environment. Precedence: URL query parameter, then these options, then environment variables.
/// </summary>
public sealed record RepositoryBackendOptions
{
    /// <summary>Retry policy of the <see cref="RetryingBackend"/> every created backend is wrapped in (null: <see cref="RetryPolicy.Default"/>).</summary>
    public RetryPolicy? Retry { get; init; }

    /// <summary>S3 endpoint of an S3-compatible server (else <c>?endpoint=</c>, <c>AWS_ENDPOINT_URL_S3</c>, <c>AWS_ENDPOINT_URL</c>).</summary>
    public Uri? S3Endpoint { get; init; }

    /// <summary>S3 region (else <c>?region=</c>, <c>AWS_REGION</c>, <c>AWS_DEFAULT_REGION</c>, us-east-1).</summary>
    public string? S3Region { get; init; }

    /// <summary>S3 access key id (else <c>AWS_ACCESS_KEY_ID</c>, else the SDK credential chain).</summary>
    public string? S3AccessKeyId { get; init; }

    /// <summary>S3 secret access key (else <c>AWS_SECRET_ACCESS_KEY</c>).</summary>
    public string? S3SecretAccessKey { get; init; }

    /// <summary>How S3 create-only puts are enforced (else <c>?create-only=</c>; default: probe the server).</summary>
    public S3CreateOnlyMode? S3CreateOnly { get; init; }

    /// <summary>Azure Storage connection string (else <c>AZURE_STORAGE_CONNECTION_STRING</c>).</summary>
    public string? AzureConnectionString { get; init; }
}
