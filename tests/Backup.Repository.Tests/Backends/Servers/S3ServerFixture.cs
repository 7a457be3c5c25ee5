using System.Text.RegularExpressions;
using Backup.Repository.Backends.S3;
using Backup.Repository.Tests.Support;

namespace Backup.Repository.Tests.Backends.Servers;

/// <summary>s3rver on 127.0.0.1 with one bucket, started once for the "s3rver" collection and stopped afterwards.</summary>
public sealed partial class S3ServerFixture : IDisposable
{
    public const string Bucket = "backup-tests";
    public const string AccessKey = "S3RVER";
    public const string SecretKey = "S3RVER";

    private readonly TemporaryFolder _data = new();
    private readonly NodeServerProcess _server;

    public S3ServerFixture()
    {
        _server = NodeServerProcess.Start(
            "s3rver",
            "s3rver/bin/s3rver.js",
            ["-d", _data.Path, "-a", "127.0.0.1", "-p", "0", "--configure-bucket", Bucket],
            ListeningLine(),
            TimeSpan.FromSeconds(60));
        Endpoint = new Uri($"http://127.0.0.1:{_server.Port}/");
    }

    public Uri Endpoint { get; }

    /// <summary>Options for a fresh, empty area of the bucket.</summary>
    public S3BackendOptions Options(string? prefix = null) => new()
    {
        Bucket = Bucket,
        Prefix = prefix ?? "t-" + Guid.NewGuid().ToString("N"),
        Endpoint = Endpoint,
        Region = "us-east-1",
        AccessKeyId = AccessKey,
        SecretAccessKey = SecretKey,
    };

    public void Dispose()
    {
        _server.Dispose();
        _data.Dispose();
    }

    [GeneratedRegex(@"listening on 127\.0\.0\.1:(?<port>\d+)")]
    private static partial Regex ListeningLine();
}
