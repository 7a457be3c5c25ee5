using Backup.Disks.ChangeTracking;
using Backup.Repository.Backends.Local;
using Backup.Repository.Tests.Support;
using Backup.Repository.Writing;

namespace Backup.Repository.Tests.Incremental;

public sealed class IncrementalDiskTests : IDisposable
{
    private const int Chunk = 256 * 1024;
    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Three_changed_extents_read_only_their_chunks_and_restore_byte_identical()
    {
        using var repository = await TestRepositories.InitAsync(new LocalFolderBackend(_folder.Path));
        var image = TestImages.Create((40 * Chunk) + 5000, seed: 21);
        var first = await WriteAsync(repository, "vm", null, image, new DiskChanges(null, [], "track-a:1"));
        Assert.Equal("track-a:1", (await repository.ReadManifestAsync(first.PointId)).Disks[0].TrackingTag);

        // Three extents: inside chunk 2, across the boundary of chunks 10 and 11, and the short last chunk.
        var extents = new[] { new DiskExtent((2L * Chunk) + 100, 4096), new DiskExtent((11L * Chunk) - 2048, 8192), new DiskExtent(image.Length - 3000, 3000) };
        var random = new Random(3);
        foreach (var extent in extents)
        {
            random.NextBytes(image.AsSpan((int)extent.Offset, (int)extent.Length));
        }

        var device = new CountingBlockDevice(image);
        var second = await WriteAsync(repository, "vm", null, device, new DiskChanges(first.PointId, extents, "track-a:2"));

        var readChunks = new[] { 2L, 10, 11, 40 };
        var expectedBytes = (3L * Chunk) + 5000;
        Assert.True(second.Result.Incremental, second.Result.FullReadReason);
        Assert.Equal(expectedBytes, device.BytesRead);
        Assert.Equal(expectedBytes, second.Result.BytesRead);
        Assert.Equal(image.Length - expectedBytes, second.Result.BytesSkipped);
        Assert.Equal(4, second.Result.ChunksRead);
        Assert.Equal(37, second.Result.ChunksReused);
        Assert.Equal(image.Length - expectedBytes, second.Statistics.BytesSkipped);
        Assert.Equal(expectedBytes, second.Statistics.BytesRead);
        foreach (var (offset, length) in device.Reads)
        {
            for (var chunk = offset / Chunk; chunk <= (offset + length - 1) / Chunk; chunk++)
            {
                Assert.Contains(chunk, readChunks);
            }
        }

        var manifest = await repository.ReadManifestAsync(second.PointId);
        Assert.Equal(first.PointId, manifest.Parent);
        Assert.Equal("track-a:2", manifest.Disks[0].TrackingTag);
        Assert.Equal([[2L, 1L], [10L, 2L], [40L, 1L]], manifest.Disks[0].Changed.Ranges);
        Assert.Equal(image, await TestRepositories.RestoreAsync(repository, second.PointId));
        Assert.True((await repository.VerifyAsync()).IsHealthy);
    }

    [Fact]
    public async Task Changes_relative_to_an_older_point_than_the_parent_reuse_that_point_and_map_changes_against_the_parent()
    {
        using var repository = await TestRepositories.InitAsync(new LocalFolderBackend(_folder.Path));
        var image = TestImages.Create(12 * Chunk, seed: 5);
        var first = await WriteAsync(repository, "vm", null, image, null);
        Assert.Equal("first restore point of VM 'vm': there is no earlier point to reuse chunks from", first.Result.FullReadReason);
        image[5 * Chunk] ^= 0xFF;
        var second = await WriteAsync(repository, "vm", null, image, null);
        Assert.Equal("no changed-block information was given", second.Result.FullReadReason);
        image[7 * Chunk] ^= 0xFF;

        // The changes are relative to the first point (chunks 5 and 7), the writer's parent is the latest (second) point.
        var device = new CountingBlockDevice(image);
        var third = await WriteAsync(repository, "vm", null, device, new DiskChanges(first.PointId, [new DiskExtent(5L * Chunk, 1), new DiskExtent(7L * Chunk, 1)], "t:3"));

        Assert.True(third.Result.Incremental, third.Result.FullReadReason);
        Assert.Equal(2L * Chunk, device.BytesRead);
        Assert.Equal(1, third.Result.ChunksNew);
        var manifest = await repository.ReadManifestAsync(third.PointId);
        Assert.Equal(second.PointId, manifest.Parent);
        Assert.Equal(second.PointId, manifest.Disks[0].Changed.Parent);
        Assert.Equal([[7L, 1L]], manifest.Disks[0].Changed.Ranges);
        Assert.Equal("t:3", manifest.Disks[0].TrackingTag);
        Assert.Equal(image, await TestRepositories.RestoreAsync(repository, third.PointId));
    }

    [Fact]
    public async Task A_missing_or_damaged_base_point_reads_everything_and_says_why()
    {
        using var repository = await TestRepositories.InitAsync(new LocalFolderBackend(_folder.Path));
        var image = TestImages.Create(6 * Chunk, seed: 12);
        var first = await WriteAsync(repository, "vm", null, image, null);
        var gone = "20200101T000000Z-00000000";

        // A base that was never committed (or was deleted by retention): the new point has no parent.
        var missing = await WriteAsync(repository, "vm", gone, new CountingBlockDevice(image), new DiskChanges(gone, [new DiskExtent(0, 1)], "t:1"));
        Assert.Equal($"base restore point {gone} not found in {repository.Backend.Location} (deleted or never committed)", missing.Result.FullReadReason);
        Assert.Equal(image.Length, missing.Result.BytesRead);
        Assert.Null((await repository.ReadManifestAsync(missing.PointId)).Parent);
        Assert.Equal(image, await TestRepositories.RestoreAsync(repository, missing.PointId));

        // A base whose manifest no longer authenticates.
        var manifestFile = Directory.EnumerateFiles(_folder.Path, first.PointId, SearchOption.AllDirectories).Single();
        var bytes = await File.ReadAllBytesAsync(manifestFile);
        bytes[^5] ^= 0x01;
        await File.WriteAllBytesAsync(manifestFile, bytes);
        var damaged = await WriteAsync(repository, "vm", first.PointId, new CountingBlockDevice(image), new DiskChanges(first.PointId, [new DiskExtent(0, 1)], null));
        Assert.StartsWith($"the manifest of base restore point {first.PointId} cannot be read: ", damaged.Result.FullReadReason, StringComparison.Ordinal);
        Assert.Equal(image.Length, damaged.Result.BytesRead);
        Assert.Equal(image, await TestRepositories.RestoreAsync(repository, damaged.PointId));
    }

    [Fact]
    public async Task A_base_written_with_another_chunk_size_reads_everything_and_says_why()
    {
        using (var repository = await TestRepositories.InitAsync(new LocalFolderBackend(_folder.Path)))
        {
            await WriteAsync(repository, "vm", null, TestImages.Create(4 * Chunk, seed: 13), null);
        }

        // The admin re-configured the repository to write 128 KiB disk chunks.
        var configFile = Path.Combine(_folder.Path, "config");
        await File.WriteAllTextAsync(configFile, (await File.ReadAllTextAsync(configFile)).Replace("\"diskChunkSize\":262144", "\"diskChunkSize\":131072", StringComparison.Ordinal));
        using var reopened = await BackupRepository.OpenAsync(new LocalFolderBackend(_folder.Path), TestRepositories.Passphrase);
        var basePoint = (await reopened.ListPointsAsync()).Single().Id;
        var image = TestImages.Create(4 * Chunk, seed: 13);
        var second = await WriteAsync(reopened, "vm", null, new CountingBlockDevice(image), new DiskChanges(basePoint, [], null));
        Assert.Equal($"disk 'vda' of base restore point {basePoint} uses 262144-byte chunks, this repository now writes 131072-byte chunks", second.Result.FullReadReason);
        Assert.Equal(image, await TestRepositories.RestoreAsync(reopened, second.PointId));
    }

    [Fact]
    public async Task An_explicit_parent_makes_changes_relative_to_an_older_point_incremental()
    {
        using var repository = await TestRepositories.InitAsync(new LocalFolderBackend(_folder.Path));
        var original = TestImages.Create(16 * Chunk, seed: 8);
        var first = await WriteAsync(repository, "vm", null, original, null);
        var other = (byte[])original.Clone();
        other.AsSpan(0, 8 * Chunk).Fill(0x11);
        await WriteAsync(repository, "vm", null, other, null);

        var image = (byte[])original.Clone();
        image[(3 * Chunk) + 7] ^= 0x5A;
        var device = new CountingBlockDevice(image);
        var third = await WriteAsync(repository, "vm", first.PointId, device, new DiskChanges(first.PointId, [new DiskExtent((3 * Chunk) + 7, 1)], null));

        Assert.True(third.Result.Incremental, third.Result.FullReadReason);
        Assert.Equal(Chunk, device.BytesRead);
        var manifest = await repository.ReadManifestAsync(third.PointId);
        Assert.Equal(first.PointId, manifest.Parent);
        Assert.Null(manifest.Disks[0].TrackingTag);
        Assert.Equal(image, await TestRepositories.RestoreAsync(repository, third.PointId));

        await WriteAsync(repository, "other-vm", null, image, null);
        var error = await Assert.ThrowsAsync<ArgumentException>(() => repository.BeginPointAsync("other-vm", first.PointId));
        Assert.Contains("belongs to VM 'vm'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_resized_disk_untrusted_tracking_or_bad_extents_are_handled()
    {
        using var repository = await TestRepositories.InitAsync(new LocalFolderBackend(_folder.Path));
        var image = TestImages.Create(8 * Chunk, seed: 9);
        var first = await WriteAsync(repository, "vm", null, image, null);

        var grown = image.Concat(new byte[Chunk]).ToArray();
        var resized = await WriteAsync(repository, "vm", first.PointId, new CountingBlockDevice(grown), new DiskChanges(first.PointId, [new DiskExtent(0, 1)], null));
        Assert.Equal($"disk 'vda' size changed from 2 MiB ({image.Length} bytes) in base restore point {first.PointId} to 2.25 MiB ({grown.Length} bytes)", resized.Result.FullReadReason);
        Assert.Equal(grown, await TestRepositories.RestoreAsync(repository, resized.PointId));

        var untrusted = await WriteAsync(repository, "vm", first.PointId, new CountingBlockDevice(image), new DiskChanges(first.PointId, [], "t:9") { AllChangedReason = "sidecar lost" });
        Assert.Equal("change tracking reports every block changed: sidecar lost", untrusted.Result.FullReadReason);
        Assert.Equal(image.Length, untrusted.Result.BytesRead);

        await using var writer = await repository.BeginPointAsync("vm", first.PointId);
        var error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() =>
            writer.AddDiskAsync("vda", new CountingBlockDevice(image), new DiskChanges(first.PointId, [new DiskExtent(image.Length - 10, 11)], null)));
        Assert.Contains("ends past the end of disk 'vda'", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new DiskChanges(first.PointId, [], "bad\ntag"));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DiskChanges(first.PointId, [new DiskExtent(-1, 5)], null));
    }

    [Fact]
    public async Task A_parent_whose_chunks_are_not_indexed_is_not_reused_and_does_not_stop_the_backup()
    {
        var backend = new LocalFolderBackend(_folder.Path);
        using var repository = await TestRepositories.InitAsync(backend);
        var image = TestImages.Create(8 * Chunk, seed: 10);
        var first = await WriteAsync(repository, "vm", null, image, null);

        // Lose every pack's index entry by reopening after deleting the index files: the parent's chunks are unknown.
        foreach (var file in Directory.EnumerateFiles(Path.Combine(_folder.Path, "index")))
        {
            File.Delete(file);
        }

        using var reopened = await BackupRepository.OpenAsync(backend, TestRepositories.Passphrase);
        await using var writer = await reopened.BeginPointAsync("vm", first.PointId);
        var result = await writer.AddDiskAsync("vda", new CountingBlockDevice(image), new DiskChanges(first.PointId, [], null));
        Assert.False(result.Incremental);
        Assert.Contains(first.PointId, result.FullReadReason, StringComparison.Ordinal);
        Assert.Equal(image.Length, result.BytesRead);
        var manifest = await writer.CommitAsync();
        Assert.Null(manifest.Disks[0].Changed.Parent);
        Assert.Equal(image, await TestRepositories.RestoreAsync(reopened, manifest.Id));
    }

    private static Task<(string PointId, DiskWriteResult Result, WriteStatistics Statistics)> WriteAsync(BackupRepository repository, string vm, string? parent, byte[] image, DiskChanges? changes) =>
        WriteAsync(repository, vm, parent, new CountingBlockDevice(image), changes);

    private static async Task<(string PointId, DiskWriteResult Result, WriteStatistics Statistics)> WriteAsync(
        BackupRepository repository, string vm, string? parent, CountingBlockDevice device, DiskChanges? changes)
    {
        await using var writer = await repository.BeginPointAsync(vm, parent);
        var result = await writer.AddDiskAsync("vda", device, changes);
        var manifest = await writer.CommitAsync();
        return (manifest.Id, result, writer.Statistics);
    }
}
