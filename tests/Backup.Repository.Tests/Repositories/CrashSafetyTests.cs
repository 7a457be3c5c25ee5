using Backup.Repository.Backends.Faults;
using Backup.Repository.Backends.Local;
using Backup.Repository.Tests.Support;

namespace Backup.Repository.Tests.Repositories;

/// <summary>A writer that dies at any stage before its manifest leaves no visible point and a valid repository.</summary>
public sealed class CrashSafetyTests : IDisposable
{
    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Theory]
    [InlineData("points/", 0)] // dies after packs and index, before the manifest
    [InlineData("index/", 0)]  // dies after the packs, before the index
    [InlineData("packs/", 1)]  // dies in the middle of the pack uploads
    public async Task A_writer_that_dies_before_its_manifest_leaves_no_point_and_a_valid_repository(string failingPrefix, int putsBeforeFailure)
    {
        var disk = new LocalFolderBackend(_folder.Path);
        (await TestRepositories.InitAsync(disk, packTargetSize: 1024 * 1024)).Dispose();
        string committed;
        var firstImage = TestImages.Create(3 * 1024 * 1024, seed: 1);
        using (var repository = await BackupRepository.OpenAsync(disk, TestRepositories.Passphrase))
        {
            committed = await TestRepositories.PutImageAsync(repository, "vm", firstImage);
        }

        var puts = 0;
        var dying = new FaultInjectingBackend(disk, (operation, key) =>
            operation == BackendOperation.Put && key.StartsWith(failingPrefix, StringComparison.Ordinal) && Interlocked.Increment(ref puts) > putsBeforeFailure
                ? new IOException($"simulated crash while writing {key}")
                : null);
        var secondImage = TestImages.Create(6 * 1024 * 1024, seed: 2);
        using (var repository = await BackupRepository.OpenAsync(dying, TestRepositories.Passphrase))
        {
            await Assert.ThrowsAsync<IOException>(() => TestRepositories.PutImageAsync(repository, "vm", secondImage));
        }

        using var reopened = await BackupRepository.OpenAsync(disk, TestRepositories.Passphrase);
        var point = Assert.Single(await reopened.ListPointsAsync());
        Assert.Equal(committed, point.Id);
        var report = await reopened.VerifyAsync();
        Assert.True(report.IsHealthy, string.Join("; ", report.DamagedObjects.Select(d => $"{d.Key}: {d.Problem}")));
        Assert.Equal(firstImage, await TestRepositories.RestoreAsync(reopened, committed));

        // The next backup succeeds and restores, whatever the crash left behind.
        var retried = await TestRepositories.PutImageAsync(reopened, "vm", secondImage);
        Assert.Equal(secondImage, await TestRepositories.RestoreAsync(reopened, retried));
        Assert.True((await reopened.VerifyAsync()).IsHealthy);
    }
}
