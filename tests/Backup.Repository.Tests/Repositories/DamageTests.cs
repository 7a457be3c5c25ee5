using Backup.Repository.Backends.Local;
using Backup.Repository.Errors;
using Backup.Repository.Tests.Support;

namespace Backup.Repository.Tests.Repositories;

/// <summary>Bad input gives a clear error naming the object and what it affects; nothing is silently skipped.</summary>
public sealed class DamageTests : IDisposable
{
    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private string FileOf(string key) => Path.Combine(_folder.Path, key.Replace('/', Path.DirectorySeparatorChar));

    private static async Task<List<string>> KeysAsync(LocalFolderBackend backend, string prefix)
    {
        var keys = new List<string>();
        await foreach (var item in backend.ListAsync(prefix))
        {
            keys.Add(item.Key);
        }

        return keys;
    }

    [Fact]
    public async Task A_wrong_passphrase_says_so()
    {
        var backend = new LocalFolderBackend(_folder.Path);
        (await TestRepositories.InitAsync(backend)).Dispose();
        var error = await Assert.ThrowsAsync<WrongPassphraseException>(() => BackupRepository.OpenAsync(backend, "not the passphrase"));
        Assert.Contains("wrong passphrase", error.Message);
    }

    [Fact]
    public async Task A_folder_without_a_repository_is_named()
    {
        var backend = new LocalFolderBackend(_folder.Path);
        var error = await Assert.ThrowsAsync<RepositoryCorruptException>(() => BackupRepository.OpenAsync(backend, "x"));
        Assert.Equal("config", error.ObjectKey);
        Assert.Contains("not a repository", error.Message);
    }

    [Fact]
    public async Task A_corrupted_pack_byte_names_the_pack_and_the_affected_restore_points()
    {
        var backend = new LocalFolderBackend(_folder.Path);
        using var repository = await TestRepositories.InitAsync(backend, packTargetSize: 1024 * 1024);
        var image = TestImages.Create(4 * 1024 * 1024, seed: 21);
        var first = await TestRepositories.PutImageAsync(repository, "vm1", image);
        var second = await TestRepositories.PutImageAsync(repository, "vm2", image);
        var other = await TestRepositories.PutImageAsync(repository, "vm3", TestImages.Create(1024 * 1024, seed: 99));

        // Damage one byte inside the first chunk of the image.
        var reader = await repository.OpenPointAsync(first);
        var manifest = reader.Manifest;
        var chunkIds = await Backup.Repository.Storage.ChunkMaps.LoadAsync(GetStore(repository), manifest.Disks[0], first, default);
        Assert.True(repository.Index.TryGet(chunkIds.First(id => !id.IsZero), out var location));
        var path = FileOf(location.Pack.Key);
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[location.Entry.Offset + 20] ^= 0x01;
        await File.WriteAllBytesAsync(path, bytes);

        using var reopened = await BackupRepository.OpenAsync(backend, TestRepositories.Passphrase);
        var restoreError = await Assert.ThrowsAsync<RepositoryCorruptException>(() => TestRepositories.RestoreAsync(reopened, first));
        Assert.Equal(location.Pack.Key, restoreError.ObjectKey);
        Assert.Contains(location.Pack.Key, restoreError.Message);
        Assert.Contains("fails authentication", restoreError.Message);
        Assert.Contains(first, restoreError.Message);

        var report = await reopened.VerifyAsync();
        Assert.False(report.IsHealthy);
        Assert.Equal(location.Pack.Key, Assert.Single(report.DamagedObjects).Key);
        Assert.Equal(new[] { first, second }.Order(StringComparer.Ordinal), report.DamagedPoints.Select(point => point.PointId).Order(StringComparer.Ordinal));
        Assert.All(report.DamagedPoints, point => Assert.Contains(point.Problems, problem => problem.Contains(location.Pack.Key, StringComparison.Ordinal)));
        Assert.DoesNotContain(report.DamagedPoints, point => point.PointId == other);
        Assert.Equal(TestImages.Create(1024 * 1024, seed: 99), await TestRepositories.RestoreAsync(reopened, other));
    }

    [Fact]
    public async Task A_missing_pack_names_the_pack_and_the_restore_point()
    {
        var backend = new LocalFolderBackend(_folder.Path);
        using var repository = await TestRepositories.InitAsync(backend, packTargetSize: 1024 * 1024);
        var pointId = await TestRepositories.PutImageAsync(repository, "vm", TestImages.Create(4 * 1024 * 1024, seed: 5));
        var packs = await KeysAsync(backend, "packs/");
        var victim = packs.Order(StringComparer.Ordinal).First();
        File.Delete(FileOf(victim));

        using var reopened = await BackupRepository.OpenAsync(backend, TestRepositories.Passphrase);
        var report = await reopened.VerifyAsync();
        var damaged = Assert.Single(report.DamagedObjects);
        Assert.Equal(victim, damaged.Key);
        Assert.Contains("missing", damaged.Problem);
        Assert.Equal(pointId, Assert.Single(report.DamagedPoints).PointId);

        var error = await Assert.ThrowsAsync<RepositoryCorruptException>(() => TestRepositories.RestoreAsync(reopened, pointId));
        Assert.Contains(victim, error.Message);
        Assert.Contains("missing", error.Message);
        Assert.Contains(pointId, error.Message);
    }

    [Fact]
    public async Task A_truncated_manifest_is_named_when_listing_opening_and_verifying()
    {
        var backend = new LocalFolderBackend(_folder.Path);
        using var repository = await TestRepositories.InitAsync(backend);
        var good = await TestRepositories.PutImageAsync(repository, "vm", TestImages.Create(1024 * 1024, seed: 1));
        var bad = await TestRepositories.PutImageAsync(repository, "vm", TestImages.Create(1024 * 1024, seed: 2));
        var path = FileOf("points/" + bad);
        var bytes = await File.ReadAllBytesAsync(path);
        await File.WriteAllBytesAsync(path, bytes[..(bytes.Length / 2)]);

        var points = await repository.ListPointsAsync();
        Assert.Null(points.Single(point => point.Id == good).Problem);
        Assert.Contains("points/" + bad, points.Single(point => point.Id == bad).Problem);

        var error = await Assert.ThrowsAsync<RepositoryCorruptException>(() => repository.OpenPointAsync(bad));
        Assert.Equal("points/" + bad, error.ObjectKey);
        Assert.Contains("manifest", error.Message);

        var report = await repository.VerifyAsync();
        Assert.Equal(bad, Assert.Single(report.DamagedPoints).PointId);
    }

    [Fact]
    public async Task An_unknown_repository_format_version_is_refused_with_a_clear_message()
    {
        var backend = new LocalFolderBackend(_folder.Path);
        (await TestRepositories.InitAsync(backend)).Dispose();
        var config = await File.ReadAllTextAsync(FileOf("config"));
        await File.WriteAllTextAsync(FileOf("config"), config.Replace("\"version\":1", "\"version\":2", StringComparison.Ordinal));

        var error = await Assert.ThrowsAsync<UnsupportedFormatVersionException>(() => BackupRepository.OpenAsync(backend, TestRepositories.Passphrase));
        Assert.Equal("config", error.ObjectKey);
        Assert.Contains("version 2 is not supported", error.Message);
    }

    [Fact]
    public async Task An_unknown_blob_encoding_version_in_a_manifest_is_refused_naming_it()
    {
        var backend = new LocalFolderBackend(_folder.Path);
        using var repository = await TestRepositories.InitAsync(backend);
        var pointId = await TestRepositories.PutImageAsync(repository, "vm", TestImages.Create(1024 * 1024, seed: 1));
        var path = FileOf("points/" + pointId);
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[0] = 9;
        await File.WriteAllBytesAsync(path, bytes);

        var error = await Assert.ThrowsAsync<UnsupportedFormatVersionException>(() => repository.OpenPointAsync(pointId));
        Assert.Equal("points/" + pointId, error.ObjectKey);
        Assert.Contains("encoding version 9", error.Message);
    }

    [Fact]
    public async Task A_corrupted_index_file_is_named_on_open()
    {
        var backend = new LocalFolderBackend(_folder.Path);
        (await TestRepositories.InitAsync(backend)).Dispose();
        using (var repository = await BackupRepository.OpenAsync(backend, TestRepositories.Passphrase))
        {
            await TestRepositories.PutImageAsync(repository, "vm", TestImages.Create(1024 * 1024, seed: 1));
        }

        var index = Assert.Single(await KeysAsync(backend, "index/"));
        var bytes = await File.ReadAllBytesAsync(FileOf(index));
        bytes[^3] ^= 0x80;
        await File.WriteAllBytesAsync(FileOf(index), bytes);

        var error = await Assert.ThrowsAsync<RepositoryCorruptException>(() => BackupRepository.OpenAsync(backend, TestRepositories.Passphrase));
        Assert.Equal(index, error.ObjectKey);
        Assert.Contains(index, error.Message);
    }

    private static Backup.Repository.Storage.BlobStore GetStore(BackupRepository repository) => repository.Store;
}
