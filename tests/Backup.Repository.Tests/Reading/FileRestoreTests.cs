using Backup.Repository.Backends.Local;
using Backup.Repository.Errors;
using Backup.Repository.Tests.Support;

namespace Backup.Repository.Tests.Reading;

public sealed class FileRestoreTests : IDisposable
{
    private const int Chunk = 256 * 1024;
    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_disk_with_zero_runs_repeated_chunks_and_a_short_last_chunk_restores_byte_for_byte(bool allowDirectIo)
    {
        // Not a multiple of 4096: the last chunk is written padded and the file cut to the disk's length.
        var image = TestImages.Create((40 * Chunk) + 1234, seed: 31);
        image.AsSpan(0, Chunk).Clear();
        image.AsSpan(10 * Chunk, 7 * Chunk).Clear();
        image.AsSpan(5 * Chunk, Chunk).CopyTo(image.AsSpan(20 * Chunk));
        image.AsSpan(5 * Chunk, Chunk).CopyTo(image.AsSpan(33 * Chunk));
        var (repository, pointId) = await CreateAsync(image);
        using (repository)
        {
            var reader = await repository.OpenPointAsync(pointId);
            var path = Path.Combine(_folder.Path, "restored.img");
            await File.WriteAllBytesAsync(path, Enumerable.Repeat((byte)0xEE, image.Length + 5000).ToArray());
            long reported = 0;
            await reader.RestoreDiskToFileAsync("vda", path, allowDirectIo, new Progress(value => reported = value));

            // An existing file is replaced: zero chunks read back as zeros, not as its old bytes.
            Assert.Equal(image, await File.ReadAllBytesAsync(path));
            var stored = Enumerable.Range(0, 41).Sum(i => image.AsSpan(i * Chunk, Math.Min(Chunk, image.Length - (i * Chunk))) is var chunk && chunk.ContainsAnyExcept((byte)0) ? (long)chunk.Length : 0);
            Assert.Equal(stored, reported);
        }
    }

    [Fact]
    public async Task Zero_chunks_are_left_as_holes_that_read_back_as_zeros()
    {
        var image = TestImages.Create(64 * Chunk, seed: 5);
        image.AsSpan(8 * Chunk, 48 * Chunk).Clear();
        var (repository, pointId) = await CreateAsync(image);
        using (repository)
        {
            var reader = await repository.OpenPointAsync(pointId);
            var path = Path.Combine(_folder.Path, "sparse.img");
            await reader.RestoreDiskToFileAsync("vda", path);

            Assert.Equal(image, await File.ReadAllBytesAsync(path));
            if (OperatingSystem.IsLinux())
            {
                // Allocated blocks (du) stay well below the 16 MiB length: 12 MiB of zeros were never written.
                Assert.True(AllocatedBytes(path) < 8L * Chunk * 3, $"{AllocatedBytes(path)} bytes allocated for a file of {image.Length}");
            }
        }
    }

    [Fact]
    public async Task A_damaged_chunk_fails_the_restore_naming_the_pack_and_the_point()
    {
        var image = TestImages.Create(12 * Chunk, seed: 8);
        var (repository, pointId) = await CreateAsync(image);
        using (repository)
        {
            var pack = Directory.EnumerateFiles(Path.Combine(_folder.Path, "repo", "packs"), "*", SearchOption.AllDirectories).First();
            await using (var stream = new FileStream(pack, FileMode.Open, FileAccess.ReadWrite))
            {
                stream.Position = 100;
                var b = stream.ReadByte();
                stream.Position = 100;
                stream.WriteByte((byte)(b ^ 0x40));
            }

            var error = await Assert.ThrowsAsync<RepositoryCorruptException>(async () =>
            {
                var reader = await repository.OpenPointAsync(pointId);
                await reader.RestoreDiskToFileAsync("vda", Path.Combine(_folder.Path, "out.img"));
            });
            Assert.Contains("packs/", error.ObjectKey, StringComparison.Ordinal);
            Assert.Contains(pointId, error.AffectedPoints);
        }
    }

    private static long AllocatedBytes(string path)
    {
        var info = new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%b %B", path]) { RedirectStandardOutput = true };
        using var process = System.Diagnostics.Process.Start(info)!;
        var parts = process.StandardOutput.ReadToEnd().Trim().Split(' ');
        process.WaitForExit();
        return long.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture) * long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
    }

    private async Task<(BackupRepository Repository, string PointId)> CreateAsync(byte[] image)
    {
        var repository = await TestRepositories.InitAsync(new LocalFolderBackend(Path.Combine(_folder.Path, "repo")));
        return (repository, await TestRepositories.PutImageAsync(repository, "vm", image));
    }

    private sealed class Progress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
