using Backup.Repository.Backends;
using Backup.Repository.Backends.Faults;
using Backup.Repository.Backends.Local;
using Backup.Repository.Backends.Resilience;
using Backup.Repository.Errors;
using Backup.Repository.Tests.Support;

namespace Backup.Repository.Tests.Backends.Resilience;

/// <summary>Whole backups and restores through the repository facade while the backend misbehaves.</summary>
public sealed class FaultyBackupTests : IDisposable
{
    private static readonly RetryPolicy Policy = RetryingBackendTests.Fast with { MaxAttempts = 8, AttemptTimeout = TimeSpan.FromMilliseconds(400) };

    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    /// <summary>Every kind of fault the store can show (silent write damage only with read-back verification).</summary>
    private static Func<BackendOperation, string, BackendFault?> RandomFaults(int seed, double rate, bool silentWrites)
    {
        var random = new Random(seed);
        var gate = new object();
        return (operation, _) =>
        {
            int pick;
            lock (gate)
            {
                if (random.NextDouble() >= rate)
                {
                    return null;
                }

                pick = random.Next(silentWrites ? 9 : 7);
            }

            return pick switch
            {
                0 => BackendFault.Throw(new BackendTransientException("injected 503 SlowDown")),
                1 => BackendFault.ThrowAfter(new BackendTransientException("injected: connection reset after the request")),
                2 => BackendFault.Slow(TimeSpan.FromSeconds(20)),
                3 => BackendFault.Slow(TimeSpan.FromMilliseconds(30)),
                4 => BackendFault.LateResponse(TimeSpan.FromSeconds(20)),
                5 => operation is BackendOperation.Get or BackendOperation.GetRange ? BackendFault.TruncatedRead(0.4) : BackendFault.CorruptedWrite(silent: false),
                6 => BackendFault.TruncatedWrite(silent: false),
                7 => BackendFault.TruncatedWrite(silent: true),
                _ => BackendFault.CorruptedWrite(silent: true),
            };
        };
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(2, false)]
    [InlineData(3, true)]
    public async Task Backup_and_restore_succeed_through_retries_under_random_faults(int seed, bool silentWrites)
    {
        var disk = new LocalFolderBackend(Path.Combine(_folder.Path, "repo"));
        var faulty = new FaultInjectingBackend(disk, RandomFaults(seed, 0.15, silentWrites));
        var backend = new RetryingBackend(faulty, Policy with { VerifyWrites = silentWrites });
        var image = TestImages.Create(6 * 1024 * 1024, seed);
        var changed = (byte[])image.Clone();
        TestImages.ScatterWrites(changed, 40, seed + 10);

        using (var repository = await TestRepositories.InitAsync(backend, packTargetSize: 512 * 1024))
        {
            var first = await TestRepositories.PutImageAsync(repository, "vm1", image);
            var second = await TestRepositories.PutImageAsync(repository, "vm1", changed);
            Assert.Equal(image, await TestRepositories.RestoreAsync(repository, first));
            Assert.Equal(changed, await TestRepositories.RestoreAsync(repository, second));

            // Random reads fetch chunk by chunk (a full restore fetches whole runs of a pack at once).
            var reader = await repository.OpenPointAsync(second, cacheBytes: 0);
            var block = new byte[4096];
            for (long offset = 0; offset < changed.Length; offset += 256 * 1024)
            {
                await reader.ReadAsync("vda", offset + 1000, block);
                Assert.Equal(changed.AsSpan((int)offset + 1000, block.Length).ToArray(), block);
            }
        }

        Assert.True(faulty.InjectedFaults > 10, $"only {faulty.InjectedFaults} faults were injected");
        Assert.True(backend.Retries > 0);

        // The repository on disk is intact when read without any fault.
        using var clean = await BackupRepository.OpenAsync(disk, TestRepositories.Passphrase);
        var report = await clean.VerifyAsync();
        Assert.True(report.IsHealthy, string.Join("; ", report.DamagedObjects.Select(d => d.ToString())));
        Assert.Equal(2, (await clean.ListPointsAsync()).Count);
    }

    [Fact]
    public async Task A_backup_that_cannot_get_through_fails_clearly_and_leaves_a_clean_repository_for_the_next_one()
    {
        var disk = new LocalFolderBackend(Path.Combine(_folder.Path, "repo"));
        using (var setup = await TestRepositories.InitAsync(disk, packTargetSize: 256 * 1024))
        {
            await TestRepositories.PutImageAsync(setup, "vm1", TestImages.Create(1024 * 1024, 1));
        }

        // The store goes down after a few packs: every put fails, transiently, forever.
        var puts = 0;
        var outage = new FaultInjectingBackend(disk, (operation, _) =>
            operation == BackendOperation.Put && Interlocked.Increment(ref puts) > 3 ? BackendFault.Throw(new BackendTransientException("injected: service unavailable")) : null);
        var backend = new RetryingBackend(outage, Policy with { MaxAttempts = 3 });
        using (var repository = await BackupRepository.OpenAsync(backend, TestRepositories.Passphrase))
        {
            var error = await Assert.ThrowsAsync<BackendTransientException>(() => TestRepositories.PutImageAsync(repository, "vm1", TestImages.Create(4 * 1024 * 1024, 2)));
            Assert.Contains("after 3 attempt(s)", error.Message);
            Assert.Contains("service unavailable", error.Message);
        }

        using var reopened = await BackupRepository.OpenAsync(disk, TestRepositories.Passphrase);
        Assert.True((await reopened.VerifyAsync()).IsHealthy);
        Assert.Single(await reopened.ListPointsAsync());
        var image = TestImages.Create(4 * 1024 * 1024, 2);
        var point = await TestRepositories.PutImageAsync(reopened, "vm1", image);
        Assert.Equal(image, await TestRepositories.RestoreAsync(reopened, point));
        Assert.True((await reopened.VerifyAsync()).IsHealthy);
    }

    [Fact]
    public async Task Without_retries_a_truncated_pack_read_is_reported_never_returned_as_data()
    {
        var disk = new LocalFolderBackend(Path.Combine(_folder.Path, "repo"));
        var image = TestImages.Create(1024 * 1024, 4);
        string point;
        using (var setup = await TestRepositories.InitAsync(disk))
        {
            point = await TestRepositories.PutImageAsync(setup, "vm1", image);
        }

        var truncating = new FaultInjectingBackend(disk, (operation, key) => operation == BackendOperation.GetRange && key.StartsWith("packs/", StringComparison.Ordinal) ? BackendFault.TruncatedRead(0.9) : null);
        using var repository = await BackupRepository.OpenAsync(truncating, TestRepositories.Passphrase);
        var error = await Assert.ThrowsAsync<RepositoryCorruptException>(() => TestRepositories.RestoreAsync(repository, point));
        Assert.Contains("truncated", error.Message);
    }
}
