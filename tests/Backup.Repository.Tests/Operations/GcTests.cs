using Backup.Repository.Backends;
using Backup.Repository.Backends.Faults;
using Backup.Repository.Backends.Local;
using Backup.Repository.Maintenance;
using Backup.Repository.Tests.Support;

namespace Backup.Repository.Tests.Operations;

public sealed class GcTests : IDisposable
{
    private const int PackSize = 1024 * 1024;
    private static readonly GcOptions Prune = new() { GracePeriod = TimeSpan.FromHours(1), RepackThreshold = 0 };
    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    /// <summary>Two points of "vm" (the second changes scattered blocks) and one of "other"; the first is forgotten.</summary>
    private async Task<(string Kept, byte[] KeptImage, string Other, byte[] OtherImage)> PrepareAsync()
    {
        var backend = new LocalFolderBackend(_folder.Path);
        using var repository = await TestRepositories.InitAsync(backend, PackSize);
        var image = TestImages.Create(6 * 1024 * 1024, seed: 11);
        var first = await TestRepositories.PutImageAsync(repository, "vm", image);
        var second = (byte[])image.Clone();
        TestImages.ScatterWrites(second, 12, seed: 5);
        var kept = await TestRepositories.PutImageAsync(repository, "vm", second);
        var otherImage = TestImages.Create(2 * 1024 * 1024, seed: 12);
        var other = await TestRepositories.PutImageAsync(repository, "other", otherImage);
        await repository.ForgetAsync([first]);
        return (kept, second, other, otherImage);
    }

    private static async Task AssertHealthyAsync(BackupRepository repository, params (string Id, byte[] Image)[] points)
    {
        var report = await repository.VerifyAsync();
        Assert.True(report.IsHealthy, string.Join("; ", report.DamagedObjects.Select(d => $"{d.Key}: {d.Problem}").Concat(report.DamagedPoints.Select(p => $"{p.PointId}: {string.Join(", ", p.Problems)}"))));
        foreach (var (id, image) in points)
        {
            Assert.Equal(image, await TestRepositories.RestoreAsync(repository, id));
        }
    }

    [Fact]
    public async Task Gc_deletes_and_repacks_unreferenced_data_older_than_the_grace_period_and_keeps_every_point_readable()
    {
        var (kept, keptImage, other, otherImage) = await PrepareAsync();
        var backend = new LocalFolderBackend(_folder.Path);
        using var repository = await BackupRepository.OpenAsync(backend, TestRepositories.Passphrase);

        // Everything is younger than the grace period: nothing is touched.
        var young = await repository.GcAsync(Prune);
        Assert.Equal(0, young.PacksDeleted + young.PacksRepacked + young.OrphanPacksDeleted);
        Assert.True(young.PacksInGracePeriod > 0);

        Aging.AgePacks(_folder.Path, TimeSpan.FromHours(2));
        var bytesBefore = Aging.PackBytes(_folder.Path);
        var dry = await repository.GcAsync(Prune with { DryRun = true });
        Assert.True(dry.PacksRepacked > 0);
        Assert.Equal(bytesBefore, Aging.PackBytes(_folder.Path));

        var result = await repository.GcAsync(Prune);
        Assert.Equal(2, result.PointsMarked);
        Assert.True(result.PacksRepacked > 0, "the forgotten point's changed chunks share packs with live ones");
        Assert.True(Aging.PackBytes(_folder.Path) < bytesBefore);
        await AssertHealthyAsync(repository, (kept, keptImage), (other, otherImage));

        using var reopened = await BackupRepository.OpenAsync(backend, TestRepositories.Passphrase);
        await AssertHealthyAsync(reopened, (kept, keptImage), (other, otherImage));
        Assert.Single(Directory.GetFiles(Path.Combine(_folder.Path, "index")));

        // A second run finds nothing to do.
        Aging.AgePacks(_folder.Path, TimeSpan.FromHours(2));
        var again = await reopened.GcAsync(Prune);
        Assert.Equal(0, again.PacksDeleted + again.PacksRepacked + again.OrphanPacksDeleted);
    }

    [Fact]
    public async Task Gc_never_removes_chunks_of_a_concurrent_writer_that_has_not_committed_yet()
    {
        var (kept, keptImage, other, otherImage) = await PrepareAsync();
        var backend = new LocalFolderBackend(_folder.Path);
        Aging.AgePacks(_folder.Path, TimeSpan.FromHours(2));

        // Another client (its own handle, no lock) is in the middle of a backup: some of its packs are uploaded,
        // none is indexed, its manifest is not written.
        using var writerRepository = await BackupRepository.OpenAsync(backend, TestRepositories.Passphrase);
        var newImage = TestImages.Create(5 * 1024 * 1024, seed: 77);
        var writer = await writerRepository.BeginPointAsync("vm");
        await using (writer)
        {
            using (var stream = new MemoryStream(newImage, writable: false))
            {
                await writer.AddDiskAsync("vda", stream);
            }

            using (var collector = await BackupRepository.OpenAsync(backend, TestRepositories.Passphrase))
            {
                var result = await collector.GcAsync(Prune);
                Assert.True(result.PacksRepacked + result.PacksDeleted > 0);
            }

            await writer.CommitAsync();
        }

        // A point committed while gc runs between its mark and sweep keeps its data too: gc marks again before sweeping.
        using var repository = await BackupRepository.OpenAsync(backend, TestRepositories.Passphrase);
        await AssertHealthyAsync(repository, (kept, keptImage), (other, otherImage), (writer.PointId, newImage));
        Aging.AgePacks(_folder.Path, TimeSpan.FromHours(2));
        await repository.GcAsync(Prune);
        using var reopened = await BackupRepository.OpenAsync(backend, TestRepositories.Passphrase);
        await AssertHealthyAsync(reopened, (kept, keptImage), (other, otherImage), (writer.PointId, newImage));
    }

    [Fact]
    public async Task Gc_run_concurrently_with_a_writer_in_a_loop_leaves_every_point_readable()
    {
        var (kept, keptImage, other, otherImage) = await PrepareAsync();
        var backend = new LocalFolderBackend(_folder.Path);
        Aging.AgePacks(_folder.Path, TimeSpan.FromHours(2));
        using var writerRepository = await BackupRepository.OpenAsync(backend, TestRepositories.Passphrase);
        var images = new List<(string, byte[])>();
        var writing = Task.Run(async () =>
        {
            for (var i = 0; i < 4; i++)
            {
                var image = TestImages.Create(2 * 1024 * 1024, seed: 100 + i);
                images.Add((await TestRepositories.PutImageAsync(writerRepository, "busy", image), image));
            }
        });
        while (!writing.IsCompleted)
        {
            using var collector = await BackupRepository.OpenAsync(backend, TestRepositories.Passphrase);
            await collector.GcAsync(Prune);
        }

        await writing;
        using var repository = await BackupRepository.OpenAsync(backend, TestRepositories.Passphrase);
        await AssertHealthyAsync(repository, [(kept, keptImage), (other, otherImage), .. images]);
    }

    [Fact]
    public async Task Gc_marks_points_committed_while_it_lists_points_and_reads_the_index()
    {
        // A writer (no lock, as the library allows) commits a point right before each of gc's listings of points and
        // index files: gc must find every such point's blobs in the index it reads, and sweep none of them.
        var (kept, keptImage, other, otherImage) = await PrepareAsync();
        var disk = new LocalFolderBackend(_folder.Path);
        Aging.AgePacks(_folder.Path, TimeSpan.FromHours(2));
        using var writer = await BackupRepository.OpenAsync(disk, TestRepositories.Passphrase);
        var images = new List<(string, byte[])>();
        var armed = false;
        var hooking = new FaultInjectingBackend(disk, (operation, key) =>
        {
            if (armed && operation == BackendOperation.List && key is "points/" or "index/")
            {
                var image = TestImages.Create(1024 * 1024, seed: 200 + images.Count);
                images.Add((Task.Run(() => TestRepositories.PutImageAsync(writer, "busy", image)).GetAwaiter().GetResult(), image));
            }

            return (Exception?)null;
        });
        using (var collector = await BackupRepository.OpenAsync(hooking, TestRepositories.Passphrase))
        {
            armed = true;
            var result = await collector.GcAsync(Prune);
            armed = false;
            Assert.True(result.PacksDeleted + result.PacksRepacked > 0);
        }

        Assert.True(images.Count >= 3, $"{images.Count} points committed during gc");
        using var repository = await BackupRepository.OpenAsync(disk, TestRepositories.Passphrase);
        await AssertHealthyAsync(repository, [(kept, keptImage), (other, otherImage), .. images]);
    }

    [Theory]
    [InlineData(BackendOperation.Put, "index/")]    // new packs written, new index not
    [InlineData(BackendOperation.Delete, "index/")] // new index written, old index files not deleted
    [InlineData(BackendOperation.Delete, "packs/")] // indexes swapped, old packs not deleted
    [InlineData(BackendOperation.Put, "packs/")]    // dies while writing repacked packs
    public async Task Gc_that_dies_between_steps_leaves_a_valid_repository_and_the_next_gc_finishes_the_job(BackendOperation operation, string prefix)
    {
        var (kept, keptImage, other, otherImage) = await PrepareAsync();
        var disk = new LocalFolderBackend(_folder.Path);
        Aging.AgePacks(_folder.Path, TimeSpan.FromHours(2));
        var failing = new FaultInjectingBackend(disk, (op, key) =>
            op == operation && key.StartsWith(prefix, StringComparison.Ordinal) ? new IOException($"simulated crash at {op} {key}") : null);
        using (var dying = await BackupRepository.OpenAsync(failing, TestRepositories.Passphrase))
        {
            await Assert.ThrowsAsync<IOException>(() => dying.GcAsync(Prune));
        }

        foreach (var lockFile in Directory.GetFiles(Path.Combine(_folder.Path, "locks")))
        {
            File.Delete(lockFile); // the crashed process could not release its lock
        }

        using (var repository = await BackupRepository.OpenAsync(disk, TestRepositories.Passphrase))
        {
            await AssertHealthyAsync(repository, (kept, keptImage), (other, otherImage));
            Aging.AgePacks(_folder.Path, TimeSpan.FromHours(2));
            await repository.GcAsync(Prune);
        }

        using var reopened = await BackupRepository.OpenAsync(disk, TestRepositories.Passphrase);
        await AssertHealthyAsync(reopened, (kept, keptImage), (other, otherImage));
        Aging.AgePacks(_folder.Path, TimeSpan.FromHours(2));
        var final = await reopened.GcAsync(Prune);
        Assert.Equal(0, final.PacksDeleted + final.PacksRepacked + final.OrphanPacksDeleted);
        Assert.Single(Directory.GetFiles(Path.Combine(_folder.Path, "index")));
    }
}
