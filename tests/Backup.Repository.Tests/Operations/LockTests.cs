using System.Text;
using Backup.Repository.Backends;
using Backup.Repository.Backends.Local;
using Backup.Repository.Locks;
using Backup.Repository.Maintenance;
using Backup.Repository.Tests.Support;

namespace Backup.Repository.Tests.Operations;

public sealed class LockTests : IDisposable
{
    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Shared_locks_coexist_and_exclude_an_exclusive_lock_until_released()
    {
        var backend = new LocalFolderBackend(_folder.Path);
        using var repository = await TestRepositories.InitAsync(backend);
        var first = await repository.LockAsync(LockKind.Shared, "backup");
        var second = await repository.LockAsync(LockKind.Shared, "restore");
        var refused = await Assert.ThrowsAsync<RepositoryLockedException>(() => repository.LockAsync(LockKind.Exclusive, "gc"));
        Assert.Equal(2, refused.Conflicting.Count);
        Assert.Contains("backup", refused.Message, StringComparison.Ordinal);
        Assert.Contains(Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture), refused.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<RepositoryLockedException>(() => repository.GcAsync(new GcOptions { GracePeriod = TimeSpan.Zero }));

        await first.DisposeAsync();
        await second.DisposeAsync();
        Assert.Empty(await repository.ListLocksAsync());
        await using var exclusive = await repository.LockAsync(LockKind.Exclusive, "gc");
        Assert.Equal(Environment.ProcessId, exclusive.Info.Pid);
        var blocked = await Assert.ThrowsAsync<RepositoryLockedException>(() => repository.LockAsync(LockKind.Shared, "backup"));
        Assert.Contains("exclusive lock", blocked.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_lock_not_refreshed_for_the_stale_age_is_reported_does_not_block_and_can_be_removed()
    {
        var backend = new LocalFolderBackend(_folder.Path);
        using var repository = await TestRepositories.InitAsync(backend);
        var old = DateTimeOffset.UtcNow.AddHours(-2);
        var json = $$"""{"version":1,"kind":"Exclusive","operation":"gc","host":"other-appliance","pid":4242,"applianceId":"b","created":"{{old:O}}","refreshed":"{{old:O}}"}""";
        await backend.PutAsync("locks/00112233aabbccdd", Encoding.UTF8.GetBytes(json), PutMode.CreateNew);

        var listed = Assert.Single(await repository.ListLocksAsync());
        Assert.True(listed.IsStale(DateTimeOffset.UtcNow, new LockOptions().StaleAfter));
        Assert.Equal("other-appliance", listed.Host);

        await using (await repository.LockAsync(LockKind.Shared, "backup"))
        {
            // a stale exclusive lock does not block
        }

        var removed = Assert.Single(await repository.RemoveStaleLocksAsync(new LockOptions().StaleAfter));
        Assert.Equal("locks/00112233aabbccdd", removed.Key);
        Assert.Empty(await repository.ListLocksAsync());
    }

    [Fact]
    public async Task A_held_lock_is_refreshed_periodically()
    {
        var backend = new LocalFolderBackend(_folder.Path);
        using var repository = await TestRepositories.InitAsync(backend);
        await using var held = await repository.LockAsync(LockKind.Shared, "backup", new LockOptions { RefreshInterval = TimeSpan.FromMilliseconds(100) });
        var created = held.Info.Refreshed;
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while ((await repository.ListLocksAsync()).Single().Refreshed == created && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.True((await repository.ListLocksAsync()).Single().Refreshed > created);
        held.ThrowIfLost();
    }
}
