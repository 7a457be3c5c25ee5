using Backup.Repository.Backends.Local;
using Backup.Repository.Tests.Support;

namespace Backup.Repository.Tests.Repositories;

/// <summary>Several handles (appliances sharing one bucket) on one repository: each sees what the others commit.</summary>
public sealed class SharedRepositoryTests : IDisposable
{
    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task A_handle_opened_before_another_client_commits_reads_verifies_and_builds_on_that_point()
    {
        var backend = new LocalFolderBackend(_folder.Path);
        using (await TestRepositories.InitAsync(backend, 1024 * 1024))
        {
        }

        using var early = await BackupRepository.OpenAsync(backend, TestRepositories.Passphrase);
        using var other = await BackupRepository.OpenAsync(backend, TestRepositories.Passphrase);
        var image = TestImages.Create(3 * 1024 * 1024, seed: 31);
        var committed = await TestRepositories.PutImageAsync(other, "vm", image);

        // The early handle's index predates the point: it must find the point's blobs anyway.
        Assert.Equal(image, await TestRepositories.RestoreAsync(early, committed));
        var report = await early.VerifyAsync();
        Assert.True(report.IsHealthy, string.Join("; ", report.DamagedPoints.Select(p => $"{p.PointId}: {string.Join(", ", p.Problems)}")));

        // And a backup through the early handle takes that point as its parent and deduplicates against it.
        var changed = (byte[])image.Clone();
        TestImages.ScatterWrites(changed, 3, seed: 4);
        var next = await TestRepositories.PutImageAsync(early, "vm", changed);
        Assert.Equal(committed, (await early.ReadManifestAsync(next)).Parent);
        Assert.Equal(changed, await TestRepositories.RestoreAsync(other, next));
    }
}
