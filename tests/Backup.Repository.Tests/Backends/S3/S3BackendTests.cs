using Backup.Repository.Backends;
using Backup.Repository.Backends.S3;
using Backup.Repository.Tests.Backends.Servers;

namespace Backup.Repository.Tests.Backends.S3;

/// <summary>The conformance suite against s3rver, plus what is specific to S3.</summary>
[Collection(S3ServerGroup.Name)]
public sealed class S3BackendTests(S3ServerFixture server) : BackendConformanceTests, IDisposable
{
    private readonly List<S3Backend> _backends = [];

    protected override IRepositoryBackend CreateBackend() => Track(new S3Backend(server.Options() with { ListPageSize = 2 }));

    public void Dispose()
    {
        foreach (var backend in _backends)
        {
            backend.Dispose();
        }
    }

    private S3Backend Track(S3Backend backend)
    {
        _backends.Add(backend);
        return backend;
    }

    [Fact]
    public async Task Large_objects_go_up_in_parts_and_come_back_whole_and_by_range()
    {
        var backend = Track(new S3Backend(server.Options() with { MultipartThreshold = 6 * 1024 * 1024, PartSize = 5 * 1024 * 1024 }));
        var data = new byte[12 * 1024 * 1024 + 123];
        new Random(5).NextBytes(data);
        await backend.PutAsync("packs/00/big", data, PutMode.CreateNew);
        Assert.Equal(data, await backend.GetAsync("packs/00/big"));
        Assert.Equal(data.AsSpan(5 * 1024 * 1024 - 10, 100).ToArray(), await backend.GetRangeAsync("packs/00/big", 5 * 1024 * 1024 - 10, 100));
        await Assert.ThrowsAsync<BackendObjectExistsException>(() => backend.PutAsync("packs/00/big", data, PutMode.CreateNew));
    }

    [Fact]
    public async Task Prefixes_keep_repositories_apart()
    {
        var prefix = "shared-" + Guid.NewGuid().ToString("N");
        var first = Track(new S3Backend(server.Options(prefix + "/a")));
        var second = Track(new S3Backend(server.Options(prefix + "/b")));
        await first.PutAsync("config", new byte[] { 1 }, PutMode.CreateNew);
        Assert.False(await second.ExistsAsync("config"));
        await second.PutAsync("config", new byte[] { 2 }, PutMode.CreateNew);
        Assert.Equal([1], await first.GetAsync("config"));
        Assert.Equal("s3://backup-tests/" + prefix + "/a/", first.Location.Split(' ')[0]);
    }

    [Fact]
    public async Task A_missing_bucket_is_a_clear_error_not_a_missing_object()
    {
        var backend = Track(new S3Backend(server.Options() with { Bucket = "no-such-bucket" }));
        var error = await Assert.ThrowsAsync<IOException>(() => backend.GetAsync("config"));
        Assert.Contains("no-such-bucket", error.Message);
    }

    [Fact]
    public async Task An_unreachable_server_is_a_transient_failure()
    {
        var backend = Track(new S3Backend(server.Options() with { Endpoint = new Uri("http://127.0.0.1:9/") }));
        await Assert.ThrowsAsync<BackendTransientException>(() => backend.GetAsync("config"));
    }

    [Fact]
    public async Task Create_only_mode_is_probed()
    {
        var backend = Track(new S3Backend(server.Options()));
        // s3rver 3.7.1 ignores If-None-Match on PUT, so the backend falls back to check-then-put.
        Assert.False(await backend.UsesConditionalWritesAsync());
    }
}
