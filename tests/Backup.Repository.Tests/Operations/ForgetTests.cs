using Backup.Repository.Backends.Local;
using Backup.Repository.Tests.Support;

namespace Backup.Repository.Tests.Operations;

public sealed class ForgetTests : IDisposable
{
    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Keep_last_keeps_the_newest_points_of_each_vm_and_deletes_only_manifests()
    {
        var backend = new LocalFolderBackend(_folder.Path);
        using var repository = await TestRepositories.InitAsync(backend);
        var image = TestImages.Create(512 * 1024, seed: 3);
        var web = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            TestImages.ScatterWrites(image, 2, seed: i);
            web.Add(await TestRepositories.PutImageAsync(repository, "web", image));
            await Task.Delay(20);
        }

        var db = await TestRepositories.PutImageAsync(repository, "db", TestImages.Create(256 * 1024, seed: 9));
        var packsBefore = Aging.PackCount(_folder.Path);

        var dry = await repository.ForgetAsync(keepLast: 2, dryRun: true);
        Assert.Equal(web.Take(2).ToHashSet(), dry.Removed.Select(p => p.Id).ToHashSet());
        Assert.Equal(5, (await repository.ListPointsAsync()).Count);

        var result = await repository.ForgetAsync(keepLast: 2);
        Assert.Equal(web.Take(2).ToHashSet(), result.Removed.Select(p => p.Id).ToHashSet());
        Assert.Equal(new HashSet<string> { web[2], web[3], db }, (await repository.ListPointsAsync()).Select(p => p.Id).ToHashSet());
        Assert.Equal(packsBefore, Aging.PackCount(_folder.Path));

        await repository.ForgetAsync([web[2]]);
        Assert.Equal(new HashSet<string> { web[3], db }, (await repository.ListPointsAsync()).Select(p => p.Id).ToHashSet());
        await Assert.ThrowsAsync<ArgumentException>(() => repository.ForgetAsync(["20250101T000000Z-00000000"]));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => repository.ForgetAsync(keepLast: 0));
        Assert.Equal(image, await TestRepositories.RestoreAsync(repository, web[3]));
    }
}
