using Backup.Disks.BlockDevices;
using Backup.Repository.Backends.Local;
using Backup.Repository.Tests.Support;

namespace Backup.Repository.Tests.Repositories;

public sealed class RoundTripTests : IDisposable
{
    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task A_multi_mebibyte_image_restores_byte_identical_after_reopening()
    {
        var backend = new LocalFolderBackend(_folder.Path);
        var image = TestImages.Create(24 * 1024 * 1024 + 12345, seed: 7);
        string pointId;
        using (var repository = await TestRepositories.InitAsync(backend, packTargetSize: 2 * 1024 * 1024))
        {
            pointId = await TestRepositories.PutImageAsync(repository, "web01", image);
        }

        using var reopened = await BackupRepository.OpenAsync(backend, TestRepositories.Passphrase);
        var points = await reopened.ListPointsAsync();
        var point = Assert.Single(points);
        Assert.Equal(pointId, point.Id);
        Assert.Equal("web01", point.Vm);
        Assert.Equal(image.Length, point.TotalDiskBytes);
        Assert.Null(point.Problem);
        Assert.Equal(image, await TestRepositories.RestoreAsync(reopened, pointId));
        Assert.True(reopened.Index.Packs.Count > 1, "a 24 MiB image with 2 MiB packs spans several packs");
    }

    [Fact]
    public async Task A_block_device_and_streams_round_trip()
    {
        var backend = new LocalFolderBackend(Path.Combine(_folder.Path, "repo"));
        using var repository = await TestRepositories.InitAsync(backend);
        var image = TestImages.Create(5 * 1024 * 1024, seed: 3);
        var imagePath = Path.Combine(_folder.Path, "disk.raw");
        await File.WriteAllBytesAsync(imagePath, image);
        var memory = TestImages.Create(3 * 1024 * 1024 + 77, seed: 4);
        var configuration = "{\"cpus\":2,\"memory\":\"512M\"}"u8.ToArray();

        string pointId;
        using (var disk = RawFileDisk.Open(imagePath, readOnly: true))
        {
            await using var writer = await repository.BeginPointAsync("db01");
            await writer.SetConfigurationAsync(configuration);
            await writer.AddDiskAsync("vda", disk);
            await writer.AddStreamAsync("memory", new MemoryStream(memory));
            pointId = (await writer.CommitAsync()).Id;
        }

        var reader = await repository.OpenPointAsync(pointId);
        Assert.Equal(image, await TestRepositories.RestoreAsync(repository, pointId));
        using var restoredMemory = new MemoryStream();
        await reader.RestoreStreamAsync("memory", restoredMemory);
        Assert.Equal(memory, restoredMemory.ToArray());
        using var restoredConfiguration = new MemoryStream();
        await reader.RestoreStreamAsync("configuration", restoredConfiguration);
        Assert.Equal(configuration, restoredConfiguration.ToArray());
        Assert.True(reader.Manifest.Streams[0].Chunks.Count > 3, "3 MiB of memory is cut into several content-defined chunks");
        Assert.True((await repository.VerifyAsync()).IsHealthy);
    }

    [Fact]
    public async Task A_stream_read_chunks_ahead_stops_at_a_damaged_chunk_naming_its_pack_and_chunk()
    {
        var backend = new LocalFolderBackend(Path.Combine(_folder.Path, "repo"));
        using var repository = await TestRepositories.InitAsync(backend);
        var memory = TestImages.Create(12 * 1024 * 1024, seed: 8);
        string pointId;
        await using (var writer = await repository.BeginPointAsync("db01"))
        {
            await writer.AddStreamAsync("memory", new MemoryStream(memory));
            pointId = (await writer.CommitAsync()).Id;
        }

        var reader = await repository.OpenPointAsync(pointId);
        var chunks = reader.Manifest.Streams[0].Chunks;
        Assert.True(chunks.Count > 6, $"12 MiB should be cut into more chunks than are fetched ahead ({chunks.Count})");
        using (var whole = new MemoryStream())
        {
            await reader.RestoreStreamAsync("memory", whole);
            Assert.Equal(memory, whole.ToArray());
        }

        var damagedIndex = chunks.Count - 2;
        Assert.True(repository.Index.TryGet(Blobs.BlobId.Parse(chunks[damagedIndex].Id), out var location));
        var path = Path.Combine(_folder.Path, "repo", location.Pack.Key);
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[location.Entry.Offset + 40] ^= 0x10;
        await File.WriteAllBytesAsync(path, bytes);

        using var partial = new MemoryStream();
        var error = await Assert.ThrowsAsync<Errors.RepositoryCorruptException>(() => reader.RestoreStreamAsync("memory", partial));
        Assert.Equal(location.Pack.Key, error.ObjectKey);
        Assert.Contains($"chunk {damagedIndex} of stream 'memory'", error.Message);
        Assert.Contains(pointId, error.Message);
        var before = chunks.Take(damagedIndex).Sum(chunk => (long)chunk.Length);
        Assert.Equal(before, partial.Length);
        Assert.Equal(memory.AsSpan(0, (int)before).ToArray(), partial.ToArray());
    }

    [Fact]
    public async Task Zero_chunks_are_not_stored_and_read_back_as_zeros()
    {
        var backend = new LocalFolderBackend(_folder.Path);
        using var repository = await TestRepositories.InitAsync(backend);
        var image = new byte[16 * 1024 * 1024];
        image[5 * 1024 * 1024] = 0x5A;

        await using var writer = await repository.BeginPointAsync("sparse");
        await writer.AddDiskAsync("vda", new MemoryStream(image));
        var manifest = await writer.CommitAsync();

        Assert.Equal(63, writer.Statistics.ZeroChunks);
        Assert.Equal(2, writer.Statistics.NewBlobs); // the one non-zero chunk and its chunk map
        Assert.Equal(image, await TestRepositories.RestoreAsync(repository, manifest.Id));

        var empty = new byte[8 * 1024 * 1024];
        var emptyId = await TestRepositories.PutImageAsync(repository, "empty", empty);
        var emptyManifest = await repository.ReadManifestAsync(emptyId);
        Assert.Equal(new string('0', 64), Assert.Single(emptyManifest.Disks[0].Maps));
        Assert.Equal(empty, await TestRepositories.RestoreAsync(repository, emptyId));
    }

    [Fact]
    public async Task Random_reads_at_odd_offsets_and_lengths_match_the_image()
    {
        var backend = new LocalFolderBackend(_folder.Path);
        using var repository = await TestRepositories.InitAsync(backend);
        var image = TestImages.Create(6 * 1024 * 1024 + 999, seed: 11);
        var pointId = await TestRepositories.PutImageAsync(repository, "vm", image);
        var reader = await repository.OpenPointAsync(pointId, cacheBytes: 1024 * 1024);
        var chunk = repository.Config.DiskChunkSize;
        var random = new Random(5);
        var cases = new List<(long Offset, int Length)>
        {
            (0, 1), (chunk - 1, 2), (chunk - 3, chunk + 7), (3 * chunk + 17, 5 * chunk + 3), (image.Length - 1, 1), (image.Length - 1000, 1000), (12_345, 0),
        };
        for (var i = 0; i < 40; i++)
        {
            var offset = random.NextInt64(image.Length);
            cases.Add((offset, (int)Math.Min(random.Next(1, 3 * chunk), image.Length - offset)));
        }

        foreach (var (offset, length) in cases)
        {
            var buffer = new byte[length];
            await reader.ReadAsync("vda", offset, buffer);
            Assert.True(image.AsSpan((int)offset, length).SequenceEqual(buffer), $"read of {length} bytes at {offset} differs");
        }

        Assert.True(reader.Cache.Hits > 0);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await reader.ReadAsync("vda", image.Length - 1, new byte[2]));
        await Assert.ThrowsAsync<ArgumentException>(async () => await reader.ReadAsync("vdb", 0, new byte[2]));
    }
}
