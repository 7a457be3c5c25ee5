using Backup.Repository.Backends;
using Backup.Repository.Backends.Local;
using Backup.Repository.Tests.Support;

namespace Backup.Repository.Tests.Backends;

/// <summary>The conformance suite over a local folder, plus what is specific to folders.</summary>
public sealed class LocalFolderBackendTests : BackendConformanceTests, IDisposable
{
    private readonly TemporaryFolder _folder = new();

    protected override IRepositoryBackend CreateBackend() => new LocalFolderBackend(Path.Combine(_folder.Path, Guid.NewGuid().ToString("N")));

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Large_ranged_reads_with_direct_io_equal_reads_through_the_page_cache_at_any_offset_and_past_the_end()
    {
        var root = Path.Combine(_folder.Path, "ranges");
        var data = new byte[(3 << 20) + 1234];
        new Random(5).NextBytes(data);
        await new LocalFolderBackend(root).PutAsync("packs/p", data, PutMode.Overwrite);
        foreach (var direct in new[] { true, false })
        {
            var backend = new LocalFolderBackend(root) { DirectReads = direct };
            foreach (var (offset, length) in new[] { (0L, 1 << 20), (1L, LocalFolderBackend.MinimumDirectReadBytes), (4095L, (2 << 20) + 3), (12345L, data.Length - 12345), ((long)data.Length - 300_000, 400_000) })
            {
                var destination = new byte[length];
                var read = await backend.ReadRangeAsync("packs/p", offset, destination);
                var expected = (int)Math.Min(length, data.Length - offset);
                Assert.Equal(expected, read);
                Assert.True(data.AsSpan((int)offset, expected).SequenceEqual(destination.AsSpan(0, expected)), $"direct={direct} offset={offset} length={length}");
            }

            await Assert.ThrowsAsync<BackendObjectNotFoundException>(() => backend.ReadRangeAsync("packs/missing", 0, new byte[1 << 20]));
        }
    }

    [Fact]
    public async Task Puts_leave_no_temporary_files_and_leftovers_are_never_listed()
    {
        var root = Path.Combine(_folder.Path, "repo");
        var backend = new LocalFolderBackend(root);
        await backend.PutAsync("packs/aa/one", new byte[10], PutMode.Overwrite);
        Assert.Equal(["one"], Directory.GetFiles(Path.Combine(root, "packs", "aa")).Select(Path.GetFileName));

        await File.WriteAllBytesAsync(Path.Combine(root, "packs", "aa", ".tmp-crashed"), new byte[3]);
        var keys = new List<string>();
        await foreach (var item in backend.ListAsync("packs/"))
        {
            keys.Add(item.Key);
        }

        Assert.Equal(["packs/aa/one"], keys);
    }

    [Theory]
    [InlineData(LocalFolderBackend.MinimumDirectWriteBytes, true)]
    [InlineData(LocalFolderBackend.MinimumDirectWriteBytes + 1, true)]
    [InlineData((5 * 1024 * 1024) + 4095, true)]
    [InlineData((20 * 1024 * 1024) + 7, true)]
    [InlineData((3 * 1024 * 1024) + 11, false)]
    public async Task Large_objects_written_directly_or_through_the_page_cache_read_back_exactly(int length, bool directWrites)
    {
        var root = Path.Combine(_folder.Path, "repo");
        var backend = new LocalFolderBackend(root) { DirectWrites = directWrites };
        var data = new byte[length];
        new Random(length).NextBytes(data);
        for (var round = 0; round < 2; round++)
        {
            // The second round overwrites with other bytes (the direct-write buffer is reused).
            data[round] ^= 0xFF;
            await backend.PutAsync("packs/bb/large", data, PutMode.Overwrite);
            Assert.Equal(length, new FileInfo(Path.Combine(root, "packs", "bb", "large")).Length);
            Assert.Equal(data, await backend.GetAsync("packs/bb/large"));
        }

        Assert.Equal(["large"], Directory.GetFiles(Path.Combine(root, "packs", "bb")).Select(Path.GetFileName));
    }

    [Theory]
    [InlineData("../escape")]
    [InlineData("/absolute")]
    [InlineData("a//b")]
    [InlineData("a\\b")]
    public async Task Keys_that_could_leave_the_folder_are_refused(string key)
    {
        var backend = CreateBackend();
        await Assert.ThrowsAsync<ArgumentException>(() => backend.PutAsync(key, new byte[1], PutMode.Overwrite));
    }
}
