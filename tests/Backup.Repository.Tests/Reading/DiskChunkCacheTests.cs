using Backup.Repository.Backends;
using Backup.Repository.Backends.Faults;
using Backup.Repository.Backends.Local;
using Backup.Repository.Reading;
using Backup.Repository.Tests.Support;

namespace Backup.Repository.Tests.Reading;

public sealed class DiskChunkCacheTests : IDisposable
{
    private const int Chunk = 256 * 1024;
    private readonly TemporaryFolder _folder = new();
    private long _packReads;
    private bool _packsOffline;

    public void Dispose() => _folder.Dispose();

    private string CacheFolder => Path.Combine(_folder.Path, "cache");

    [Fact]
    public async Task Random_reads_fetch_each_chunk_once_and_are_served_from_disk_after_a_restart()
    {
        var (repository, pointId, image) = await CreateAsync(8);
        using (repository)
        {
            var chunks = NonZeroChunks(image);
            using (var cache = new DiskChunkCache(CacheFolder, 64L * 1024 * 1024))
            {
                var reader = await OpenAsync(repository, pointId, cache);
                Assert.Equal(image, await ReadRandomlyAsync(reader, image.Length, seed: 1));
                Assert.Equal(chunks, Interlocked.Read(ref _packReads));
                Assert.Equal(chunks, cache.Count);
                Assert.True(cache.Bytes > 0);
            }

            // The cache survives a restart; with the repository's packs unreachable every read is served from it.
            using var reopened = new DiskChunkCache(CacheFolder, 64L * 1024 * 1024);
            Assert.Equal(chunks, reopened.Count);
            var second = await OpenAsync(repository, pointId, reopened);
            _packsOffline = true;
            Assert.Equal(image, await ReadRandomlyAsync(second, image.Length, seed: 2));
            Assert.Equal(0, Interlocked.Read(ref _packReads));
            Assert.True(reopened.Hits >= chunks);
            Assert.Equal(0, reopened.Discarded);
        }
    }

    [Fact]
    public async Task A_corrupted_or_truncated_entry_is_discarded_and_refetched_never_served()
    {
        var (repository, pointId, image) = await CreateAsync(6);
        using (repository)
        {
            using var cache = new DiskChunkCache(CacheFolder, 64L * 1024 * 1024);
            var reader = await OpenAsync(repository, pointId, cache);
            Assert.Equal(image, await ReadRandomlyAsync(reader, image.Length, seed: 3));
            var fetched = Interlocked.Read(ref _packReads);
            Assert.Equal(NonZeroChunks(image), fetched);

            var entries = Directory.EnumerateFiles(CacheFolder, "*", SearchOption.AllDirectories).Where(file => !file.EndsWith("cache.lock", StringComparison.Ordinal)).Order().ToArray();
            var flipped = await File.ReadAllBytesAsync(entries[0]);
            flipped[flipped.Length / 2] ^= 0x20;
            await File.WriteAllBytesAsync(entries[0], flipped);
            var truncated = await File.ReadAllBytesAsync(entries[1]);
            await File.WriteAllBytesAsync(entries[1], truncated[..(truncated.Length - 7)]);

            var again = await OpenAsync(repository, pointId, cache);
            Assert.Equal(image, await ReadRandomlyAsync(again, image.Length, seed: 4));
            Assert.Equal(2, cache.Discarded);
            Assert.Equal(2, Interlocked.Read(ref _packReads));

            // The refetched chunks were cached again, intact: a third pass needs no fetch.
            var third = await OpenAsync(repository, pointId, cache);
            Assert.Equal(image, await ReadRandomlyAsync(third, image.Length, seed: 5));
            Assert.Equal(0, Interlocked.Read(ref _packReads));
            Assert.Equal(2, cache.Discarded);
        }
    }

    [Fact]
    public async Task The_cache_stays_within_its_capacity_and_evicts_the_least_recently_used()
    {
        var (repository, pointId, image) = await CreateAsync(10, zeros: false);
        using (repository)
        {
            // Room for three incompressible 256 KiB chunks.
            var capacity = (3L * Chunk) + (Chunk / 2);
            using var cache = new DiskChunkCache(CacheFolder, capacity);
            var reader = await OpenAsync(repository, pointId, cache);
            var buffer = new byte[16];
            foreach (var chunk in new[] { 0, 1, 2, 0, 3 })
            {
                await reader.ReadAsync("vda", (long)chunk * Chunk, buffer);
            }

            // Chunk 1 was the least recently used when chunk 3 came in; chunk 0 was read again and stays.
            Assert.Equal(3, cache.Count);
            Assert.Equal(1, cache.Evicted);
            Assert.True(cache.Bytes <= capacity);
            var before = Interlocked.Read(ref _packReads);
            await reader.ReadAsync("vda", 0, buffer);
            Assert.Equal(before, Interlocked.Read(ref _packReads));
            await reader.ReadAsync("vda", Chunk, buffer);
            Assert.Equal(before + 1, Interlocked.Read(ref _packReads));

            Assert.Equal(image, await ReadRandomlyAsync(reader, image.Length, seed: 6));
            Assert.True(cache.Bytes <= capacity);
            Assert.Equal(cache.Count, Directory.EnumerateFiles(CacheFolder, "*", SearchOption.AllDirectories).Count(file => !file.EndsWith("cache.lock", StringComparison.Ordinal)));
        }
    }

    [Fact]
    public void A_cache_directory_is_used_by_one_process_and_leftovers_are_cleaned_on_open()
    {
        Directory.CreateDirectory(Path.Combine(CacheFolder, "ab"));
        var leftover = Path.Combine(CacheFolder, "ab", new string('a', 62) + "bc.123.deadbeef.tmp");
        var junk = Path.Combine(CacheFolder, "ab", "not-an-entry");
        File.WriteAllText(leftover, "partial");
        File.WriteAllText(junk, "junk");

        using var cache = new DiskChunkCache(CacheFolder, 1024 * 1024);
        Assert.False(File.Exists(leftover));
        Assert.False(File.Exists(junk));
        Assert.Equal(0, cache.Count);
        var error = Assert.Throws<IOException>(() => new DiskChunkCache(CacheFolder, 1024 * 1024));
        Assert.Contains("is in use by another process", error.Message, StringComparison.Ordinal);
    }

    private async Task<(BackupRepository Repository, string PointId, byte[] Image)> CreateAsync(int chunks, bool zeros = true)
    {
        var image = TestImages.Create(chunks * Chunk, seed: chunks);
        if (zeros)
        {
            image.AsSpan(Chunk, Chunk).Clear();
        }
        else
        {
            new Random(chunks).NextBytes(image);
        }

        IRepositoryBackend backend = new FaultInjectingBackend(new LocalFolderBackend(Path.Combine(_folder.Path, "repo")), (operation, key) =>
        {
            if (operation == BackendOperation.GetRange && key.StartsWith("packs/", StringComparison.Ordinal))
            {
                if (_packsOffline)
                {
                    return new BackendTransientException($"{key}: test backend is offline");
                }

                Interlocked.Increment(ref _packReads);
            }

            return null;
        });
        var repository = await TestRepositories.InitAsync(backend);
        var pointId = await TestRepositories.PutImageAsync(repository, "vm", image);
        _packReads = 0;
        return (repository, pointId, image);
    }

    /// <summary>Opens the point (which reads its chunk maps from packs), then counts chunk fetches from zero.</summary>
    private async Task<RestorePointReader> OpenAsync(BackupRepository repository, string pointId, DiskChunkCache cache)
    {
        var reader = await repository.OpenPointAsync(pointId, cache, cacheBytes: 0);
        Interlocked.Exchange(ref _packReads, 0);
        return reader;
    }

    private static long NonZeroChunks(byte[] image) =>
        Enumerable.Range(0, image.Length / Chunk).Count(i => image.AsSpan(i * Chunk, Chunk).ContainsAnyExcept((byte)0));

    private static async Task<byte[]> ReadRandomlyAsync(RestorePointReader reader, int length, int seed)
    {
        var result = new byte[length];
        var random = new Random(seed);
        var offsets = Enumerable.Range(0, length / 4096).OrderBy(_ => random.Next()).ToArray();
        foreach (var block in offsets)
        {
            await reader.ReadAsync("vda", block * 4096L, result.AsMemory(block * 4096, 4096));
        }

        return result;
    }
}
