using System.Text.RegularExpressions;
using Azure.Storage.Blobs;
using Backup.Repository.Backends.Azure;

namespace Backup.Repository.Tests.Backends.Servers;

/// <summary>Azurite (blob service only, in memory) on 127.0.0.1, started once for the "azurite" collection and stopped afterwards.</summary>
public sealed partial class AzuriteFixture : IDisposable
{
    public const string Container = "backup-tests";

    // Azurite's documented development account (public, fixed by the emulator).
    private const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private readonly NodeServerProcess _server;

    public AzuriteFixture()
    {
        _server = NodeServerProcess.Start(
            "azurite",
            "azurite/dist/src/blob/main.js",
            ["--blobHost", "127.0.0.1", "--blobPort", "0", "--inMemoryPersistence", "--skipApiVersionCheck", "--loose", "--disableTelemetry"],
            ListeningLine(),
            TimeSpan.FromSeconds(60));
        ConnectionString = $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AccountKey};BlobEndpoint=http://127.0.0.1:{_server.Port}/devstoreaccount1;";
        new BlobContainerClient(ConnectionString, Container).CreateIfNotExists();
    }

    public string ConnectionString { get; }

    /// <summary>Options for a fresh, empty area of the container.</summary>
    public AzureBlobBackendOptions Options(string? prefix = null) => new()
    {
        Container = Container,
        Prefix = prefix ?? "t-" + Guid.NewGuid().ToString("N"),
        ConnectionString = ConnectionString,
    };

    public void Dispose() => _server.Dispose();

    [GeneratedRegex(@"listens on http://127\.0\.0\.1:(?<port>\d+)")]
    private static partial Regex ListeningLine();
}
