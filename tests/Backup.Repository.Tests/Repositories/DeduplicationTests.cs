using Backup.Repository.Backends.Local;
using Backup.Repository.Tests.Support;

namespace Backup.Repository.Tests.Repositories;

public sealed class DeduplicationTests : IDisposable
{
    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static async Task<(int Objects, long Bytes)> MeasureAsync(LocalFolderBackend backend)
    {
        var objects = 0;
        long bytes = 0;
        await foreach (var item in backend.ListAsync(""))
        {
            objects++;
            bytes += item.Length;
        }

        return (objects, bytes);
    }

    [Fact]
    public async Task A_second_backup_of_a_slightly_changed_image_uploads_only_the_changed_chunks()
    {
        var backend = new LocalFolderBackend(_folder.Path);
        using var repository = await TestRepositories.InitAsync(backend, packTargetSize: 1024 * 1024);
        var image = new byte[32 * 1024 * 1024];
        new Random(1).NextBytes(image); // incompressible, so stored bytes track chunk bytes
        var first = await TestRepositories.PutImageAsync(repository, "web01", image);
        var afterFirst = await MeasureAsync(backend);

        var touched = TestImages.ScatterWrites(image, 10, seed: 2);
        var chunkSize = repository.Config.DiskChunkSize;
        var changedChunks = touched.Select(block => block * 4096L / chunkSize).Distinct().ToArray();

        await using var writer = await repository.BeginPointAsync("web01");
        await writer.AddDiskAsync("vda", new MemoryStream(image));
        var second = await writer.CommitAsync();
        var afterSecond = await MeasureAsync(backend);

        var uploaded = afterSecond.Bytes - afterFirst.Bytes;
        Assert.Equal(changedChunks.Length + 1, writer.Statistics.NewBlobs); // changed chunks + the new chunk map
        Assert.Equal(changedChunks.Length * (long)chunkSize, writer.Statistics.NewBlobBytes - (128 * 32));
        Assert.InRange(uploaded, changedChunks.Length * (long)chunkSize, (changedChunks.Length * (long)chunkSize) + 64 * 1024);
        var manifestLength = (await backend.GetAsync("points/" + second.Id)).Length;
        Assert.Equal(writer.Statistics.UploadedObjects + 1, afterSecond.Objects - afterFirst.Objects);
        Assert.Equal(writer.Statistics.UploadedBytes + manifestLength, uploaded);

        Assert.Equal(first, second.Parent);
        var changed = second.Disks[0].Changed;
        Assert.Equal(first, changed.Parent);
        Assert.Equal(changedChunks.Length, changed.ChangedChunks);
        Assert.All(changedChunks, chunk => Assert.Contains(changed.Ranges, range => chunk >= range[0] && chunk < range[0] + range[1]));

        Assert.Equal(image, await TestRepositories.RestoreAsync(repository, second.Id));
    }

    [Fact]
    public async Task Identical_images_of_different_vms_share_all_chunks()
    {
        var backend = new LocalFolderBackend(_folder.Path);
        using var repository = await TestRepositories.InitAsync(backend);
        var image = TestImages.Create(8 * 1024 * 1024, seed: 9);
        await TestRepositories.PutImageAsync(repository, "a", image);
        var before = await MeasureAsync(backend);

        await using var writer = await repository.BeginPointAsync("b");
        await writer.AddDiskAsync("vda", new MemoryStream(image));
        await writer.CommitAsync();

        Assert.Equal(0, writer.Statistics.NewBlobs);
        var after = await MeasureAsync(backend);
        Assert.Equal(before.Objects + 1, after.Objects); // only the manifest
    }
}
