using Backup.Repository.Backends.Faults;
using Backup.Repository.Backends.Local;
using Backup.Repository.Tests.Support;

namespace Backup.Repository.Tests.Reading;

public sealed class FullRestoreTests : IDisposable
{
    private const int Chunk = 256 * 1024;
    private readonly TemporaryFolder _folder = new();
    private long _packReads;

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Chunks_stored_side_by_side_are_fetched_with_few_ranged_reads()
    {
        var image = new byte[(48 * Chunk) + 777];
        new Random(1).NextBytes(image);
        image.AsSpan(10 * Chunk, 5 * Chunk).Clear();
        var (repository, pointId) = await CreateAsync(image);
        using (repository)
        {
            var reader = await repository.OpenPointAsync(pointId);
            Interlocked.Exchange(ref _packReads, 0);
            using var output = new MemoryStream();
            await reader.RestoreDiskAsync("vda", output);

            Assert.Equal(image, output.ToArray());

            // 44 stored chunks in 4 MiB packs (about 16 incompressible chunks each): one read per run of a pack, not per chunk.
            var reads = Interlocked.Read(ref _packReads);
            Assert.InRange(reads, 3, 8);
        }
    }

    [Fact]
    public async Task A_point_mixing_chunks_of_several_points_with_repeated_chunks_restores_in_pack_order_and_in_disk_order()
    {
        var image = new byte[32 * Chunk];
        new Random(2).NextBytes(image);
        image.AsSpan(4 * Chunk, Chunk).CopyTo(image.AsSpan(9 * Chunk));
        image.AsSpan(4 * Chunk, Chunk).CopyTo(image.AsSpan(30 * Chunk));
        var (repository, _) = await CreateAsync(image);
        using (repository)
        {
            // Second version: every third chunk rewritten, so its chunks alternate between two points' packs.
            for (var chunk = 0; chunk < 32; chunk += 3)
            {
                new Random(chunk).NextBytes(image.AsSpan(chunk * Chunk, 100));
            }

            var second = await TestRepositories.PutImageAsync(repository, "vm", image);
            var reader = await repository.OpenPointAsync(second);
            Interlocked.Exchange(ref _packReads, 0);
            using var packOrdered = new MemoryStream();
            await reader.RestoreDiskAsync("vda", packOrdered);
            Assert.Equal(image, packOrdered.ToArray());
            Assert.Equal(image.Length, packOrdered.Position);
            Assert.True(Interlocked.Read(ref _packReads) <= repository.Index.Packs.Count, "each pack is read once (its needed blobs lie within 1 MiB of each other)");

            using var diskOrdered = new MemoryStream();
            await reader.RestoreDiskAsync("vda", new NonSeekableStream(diskOrdered));
            Assert.Equal(image, diskOrdered.ToArray());
        }
    }

    [Fact]
    public async Task Non_seekable_destinations_and_destinations_with_content_after_the_position_get_every_zero_written()
    {
        var image = TestImages.Create((12 * Chunk) + 4096, seed: 17);
        image.AsSpan(0, 2 * Chunk).Clear();
        image.AsSpan(image.Length - Chunk - 4096).Clear();
        var (repository, pointId) = await CreateAsync(image);
        using (repository)
        {
            var reader = await repository.OpenPointAsync(pointId);
            using var plain = new MemoryStream();
            await reader.RestoreDiskAsync("vda", new NonSeekableStream(plain));
            Assert.Equal(image, plain.ToArray());

            // A seekable destination holding bytes past its position: zeros must overwrite them, not be skipped.
            var filled = Enumerable.Repeat((byte)0xEE, image.Length + 10).ToArray();
            using var overwritten = new MemoryStream();
            overwritten.Write(filled);
            overwritten.Position = 0;
            await reader.RestoreDiskAsync("vda", overwritten);
            Assert.Equal(image, overwritten.ToArray()[..image.Length]);
            Assert.Equal(image.Length + 10, overwritten.Length);
        }
    }

    [Fact]
    public async Task A_file_destination_skips_zero_chunks_by_seeking_and_still_gets_its_full_length()
    {
        var image = TestImages.Create(16 * Chunk, seed: 23);
        image.AsSpan(3 * Chunk, 4 * Chunk).Clear();
        image.AsSpan(13 * Chunk).Clear();
        var (repository, pointId) = await CreateAsync(image);
        using (repository)
        {
            var reader = await repository.OpenPointAsync(pointId);
            var path = Path.Combine(_folder.Path, "restored.img");
            await using (var file = new FileStream(path, FileMode.Create, FileAccess.Write))
            {
                // A header before the image: the restore starts at the current end.
                file.Write("HDR"u8);
                await reader.RestoreDiskAsync("vda", file);
            }

            var restored = await File.ReadAllBytesAsync(path);
            Assert.Equal(image.Length + 3, restored.Length);
            Assert.Equal("HDR"u8.ToArray(), restored[..3]);
            Assert.Equal(image, restored[3..]);
        }
    }

    private async Task<(BackupRepository Repository, string PointId)> CreateAsync(byte[] image)
    {
        var backend = new FaultInjectingBackend(new LocalFolderBackend(Path.Combine(_folder.Path, "repo")), (operation, key) =>
        {
            if (operation == BackendOperation.GetRange && key.StartsWith("packs/", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref _packReads);
            }

            return (Exception?)null;
        });
        var repository = await TestRepositories.InitAsync(backend);
        return (repository, await TestRepositories.PutImageAsync(repository, "vm", image));
    }

    private sealed class NonSeekableStream(Stream inner) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);
    }
}
