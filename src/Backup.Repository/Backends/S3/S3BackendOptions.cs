namespace Backup.Repository.Backends.S3;

/// <summary>
/// Where and how <see cref="S3Backend"/> reaches its bucket. Unset values come from the standard AWS environment
/// variables (<c>AWS_ACCESS_KEY_ID</c>, <c>AWS_SECRET_ACCESS_KEY</c>, <c>AWS_SESSION_TOKEN</c>, <c>AWS_REGION</c> /
/// <c>AWS_DEFAULT_REGION</c>, <c>AWS_ENDPOINT_URL_S3</c> / <c>AWS_ENDPOINT_URL</c>), then from the SDK's default
/// credential chain (profiles, instance roles).
/// </summary>
public sealed record S3BackendOptions
{
    /// <summary>Smallest object uploaded with a multipart upload (S3 parts are at least 5 MiB).</summary>
    public const int MinimumPartSize = 5 * 1024 * 1024;

    /// <summary>The bucket; it must exist.</summary>
    public required string Bucket { get; init; }

    /// <summary>Key prefix inside the bucket ("" for the bucket root); a trailing '/' is implied.</summary>
    public string Prefix { get; init; } = string.Empty;

    /// <summary>Endpoint of an S3-compatible server (for example <c>http://127.0.0.1:9000</c>); null for Amazon S3.</summary>
    public Uri? Endpoint { get; init; }

    /// <summary>Region (default: environment, then <c>us-east-1</c>).</summary>
    public string? Region { get; init; }

    /// <summary>Access key id (default: environment, then the SDK credential chain).</summary>
    public string? AccessKeyId { get; init; }

    /// <summary>Secret access key, given together with <see cref="AccessKeyId"/>.</summary>
    public string? SecretAccessKey { get; init; }

    /// <summary>Session token for temporary credentials.</summary>
    public string? SessionToken { get; init; }

    /// <summary>Path-style addressing (<c>endpoint/bucket/key</c>); null means: on whenever an endpoint is set.</summary>
    public bool? ForcePathStyle { get; init; }

    /// <summary>Objects of at least this many bytes are uploaded in parts (default 16 MiB).</summary>
    public int MultipartThreshold { get; init; } = 16 * 1024 * 1024;

    /// <summary>Part size of multipart uploads (default 8 MiB, at least 5 MiB).</summary>
    public int PartSize { get; init; } = 8 * 1024 * 1024;

    /// <summary>Parts uploaded at once (default 4).</summary>
    public int PartConcurrency { get; init; } = 4;

    /// <summary>Keys per LIST page (1–1000, default 1000).</summary>
    public int ListPageSize { get; init; } = 1000;

    /// <summary>How create-only puts are enforced (default: probe the server).</summary>
    public S3CreateOnlyMode CreateOnly { get; init; } = S3CreateOnlyMode.Auto;

    /// <summary>HTTP timeout of one request (default 5 minutes).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromMinutes(5);
}
