using Backup.Repository.Backends;
using Backup.Repository.Backends.Azure;
using Backup.Repository.Tests.Backends.Servers;

namespace Backup.Repository.Tests.Backends.Azure;

/// <summary>The conformance suite against Azurite, plus what is specific to Azure Blob.</summary>
[Collection(AzuriteGroup.Name)]
public sealed class AzureBlobBackendTests(AzuriteFixture server) : BackendConformanceTests
{
    protected override IRepositoryBackend CreateBackend() => new AzureBlobBackend(server.Options() with { ListPageSize = 2 });

    [Fact]
    public async Task Large_objects_go_up_as_staged_blocks_and_come_back_whole_and_by_range()
    {
        var backend = new AzureBlobBackend(server.Options() with { StagedUploadThreshold = 3 * 1024 * 1024, BlockSize = 1024 * 1024 });
        var data = new byte[5 * 1024 * 1024 + 77];
        new Random(6).NextBytes(data);
        await backend.PutAsync("packs/00/big", data, PutMode.CreateNew);
        Assert.Equal(data, await backend.GetAsync("packs/00/big"));
        Assert.Equal(data.AsSpan(1024 * 1024 - 5, 50).ToArray(), await backend.GetRangeAsync("packs/00/big", 1024 * 1024 - 5, 50));
        await Assert.ThrowsAsync<BackendObjectExistsException>(() => backend.PutAsync("packs/00/big", data, PutMode.CreateNew));
        Assert.Equal(data, await backend.GetAsync("packs/00/big"));
    }

    [Fact]
    public async Task Prefixes_keep_repositories_apart()
    {
        var prefix = "shared-" + Guid.NewGuid().ToString("N");
        var first = new AzureBlobBackend(server.Options(prefix + "/a"));
        var second = new AzureBlobBackend(server.Options(prefix + "/b"));
        await first.PutAsync("config", new byte[] { 1 }, PutMode.CreateNew);
        Assert.False(await second.ExistsAsync("config"));
        await second.PutAsync("config", new byte[] { 2 }, PutMode.CreateNew);
        Assert.Equal([1], await first.GetAsync("config"));
        Assert.StartsWith("azure://backup-tests/" + prefix + "/a/ at http://127.0.0.1:", first.Location);
    }

    [Fact]
    public async Task A_missing_container_is_a_clear_error_not_a_missing_object()
    {
        var backend = new AzureBlobBackend(server.Options() with { Container = "no-such-container" });
        var error = await Assert.ThrowsAsync<IOException>(() => backend.GetAsync("config"));
        Assert.Contains("no-such-container", error.Message);
    }

    [Fact]
    public async Task An_unreachable_service_is_a_transient_failure()
    {
        var backend = new AzureBlobBackend(server.Options() with { ConnectionString = server.ConnectionString.Replace($"127.0.0.1:{new Uri(server.ConnectionString.Split("BlobEndpoint=")[1].TrimEnd(';')).Port}", "127.0.0.1:9", StringComparison.Ordinal) });
        await Assert.ThrowsAsync<BackendTransientException>(() => backend.GetAsync("config"));
    }

    [Fact]
    public void A_missing_connection_string_names_the_environment_variable()
    {
        if (Environment.GetEnvironmentVariable("AZURE_STORAGE_CONNECTION_STRING") is not null)
        {
            return;
        }

        var error = Assert.Throws<ArgumentException>(() => new AzureBlobBackend(new AzureBlobBackendOptions { Container = "c" }));
        Assert.Contains("AZURE_STORAGE_CONNECTION_STRING", error.Message);
    }
}
