using Backup.Repository.Backends.Local;
using Backup.Repository.Configuration;
using Backup.Repository.Crypto;
using Backup.Repository.Tests.Support;
using Backup.Repository.Verification;

namespace Backup.Repository.Tests.Operations;

public sealed class CopyAndVerifyTests : IDisposable
{
    private readonly TemporaryFolder _source = new();
    private readonly TemporaryFolder _target = new();

    public void Dispose()
    {
        _source.Dispose();
        _target.Dispose();
    }

    [Fact]
    public async Task Copy_re_encrypts_under_the_target_keys_and_a_second_incremental_copy_moves_only_new_chunks()
    {
        using var source = await TestRepositories.InitAsync(new LocalFolderBackend(_source.Path));
        using var target = await BackupRepository.InitAsync(new LocalFolderBackend(_target.Path), "another passphrase", new RepositoryOptions { Kdf = new KdfParameters(1024, 1, 1) });
        var image = TestImages.Create(8 * 1024 * 1024, seed: 21);
        var first = await TestRepositories.PutImageAsync(source, "vm", image);
        var second = (byte[])image.Clone();
        var touched = TestImages.ScatterWrites(second, 5, seed: 4);
        var changedChunks = touched.Select(block => block * 4096 / (256 * 1024)).Distinct().Count();
        var incremental = await TestRepositories.PutImageAsync(source, "vm", second);

        var full = await source.CopyToAsync(target, [first]);
        Assert.Equal(1, full.PointsCopied);
        Assert.True(full.ChunksUploaded > 0);
        Assert.Equal(image, await TestRepositories.RestoreAsync(target, first));

        var next = await source.CopyToAsync(target, [first, incremental]);
        Assert.Equal(1, next.PointsCopied);
        Assert.Equal(1, next.PointsSkipped);
        Assert.Equal(changedChunks, next.ChunksRead);
        Assert.Equal(changedChunks, next.ChunksUploaded);
        Assert.True(next.ChunksMapped > 0);
        Assert.Equal(second, await TestRepositories.RestoreAsync(target, incremental));
        Assert.True((await target.VerifyAsync()).IsHealthy);

        // The target's data is under its own keys: the source passphrase does not open it.
        await Assert.ThrowsAsync<Errors.WrongPassphraseException>(() => BackupRepository.OpenAsync(new LocalFolderBackend(_target.Path), TestRepositories.Passphrase));
    }

    [Fact]
    public async Task Sampled_verify_reads_a_fraction_of_the_packs_and_still_finds_a_missing_pack()
    {
        var backend = new LocalFolderBackend(_source.Path);
        using var repository = await TestRepositories.InitAsync(backend, packTargetSize: 512 * 1024);
        var point = await TestRepositories.PutImageAsync(repository, "vm", TestImages.Create(8 * 1024 * 1024, seed: 8));
        var sampled = await repository.VerifyAsync(new VerifyOptions { SamplePercent = 10 });
        Assert.True(sampled.IsHealthy);
        Assert.True(sampled.PacksChecked < sampled.PacksTotal && sampled.PacksChecked >= 1, $"{sampled.PacksChecked} of {sampled.PacksTotal}");

        var victim = Directory.GetFiles(Path.Combine(_source.Path, "packs"), "*", SearchOption.AllDirectories).First();
        File.Delete(victim);
        var damaged = await repository.VerifyAsync(new VerifyOptions { SamplePercent = 1 });
        Assert.False(damaged.IsHealthy);
        Assert.Contains(damaged.DamagedObjects, d => d.Problem.Contains("missing", StringComparison.Ordinal));
        Assert.Equal(point, Assert.Single(damaged.DamagedPoints).PointId);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => repository.VerifyAsync(new VerifyOptions { SamplePercent = 0 }));
    }
}
