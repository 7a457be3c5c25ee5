using System.Security.Cryptography;
using System.Text.Json;
using Backup.Repository.Backends;

namespace Backup.Repository.Locks;

/// <summary>
/// A held lock: a <c>locks/&lt;16 hex&gt;</c> object rewritten with a new refresh time every
/// <see cref="LockOptions.RefreshInterval"/> until disposed, which deletes it. Take one with
/// <see cref="BackupRepository.LockAsync"/>.
/// </summary>
public sealed class RepositoryLock : IAsyncDisposable
{
    /// <summary>Prefix of lock objects.</summary>
    public const string Prefix = "locks/";

    private readonly IRepositoryBackend _backend;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _refresher;
    private LockInfo _info;
    private Exception? _refreshFailure;

    private RepositoryLock(IRepositoryBackend backend, LockInfo info, LockOptions options)
    {
        _backend = backend;
        _info = info;
        _refresher = RefreshLoopAsync(options.RefreshInterval);
    }

    /// <summary>The lock as written.</summary>
    public LockInfo Info => _info;

    /// <summary>
    /// Throws when refreshing failed (the lock may have gone stale and no longer protects the holder); long operations
    /// call it before destructive steps.
    /// </summary>
    public void ThrowIfLost()
    {
        if (_refreshFailure is not null)
        {
            throw new InvalidOperationException($"lock {_info.Key} could not be refreshed: {_refreshFailure.Message}", _refreshFailure);
        }
    }

    /// <summary>Rewrites the lock with the current time now.</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken = default)
    {
        _info = _info with { Refreshed = DateTimeOffset.UtcNow };
        await _backend.PutAsync(_info.Key, Serialize(_info), PutMode.Overwrite, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _refresher.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
        await _backend.DeleteAsync(_info.Key).ConfigureAwait(false);
    }

    /// <summary>Reads every lock object; unreadable ones are listed as such with their object time as refresh time.</summary>
    internal static async Task<IReadOnlyList<LockInfo>> ListAsync(IRepositoryBackend backend, CancellationToken cancellationToken)
    {
        var locks = new List<LockInfo>();
        await foreach (var item in backend.ListAsync(Prefix, cancellationToken).ConfigureAwait(false))
        {
            LockInfo? info;
            try
            {
                info = JsonSerializer.Deserialize<LockInfo>(await backend.GetAsync(item.Key, cancellationToken).ConfigureAwait(false), RepositoryJson.Options);
            }
            catch (BackendObjectNotFoundException)
            {
                continue; // released while listing
            }
            catch (JsonException)
            {
                info = null;
            }

            locks.Add(info is null
                ? new LockInfo { Kind = LockKind.Exclusive, Operation = "unreadable lock file", Created = item.LastModified, Refreshed = item.LastModified, Key = item.Key }
                : info with { Key = item.Key });
        }

        return locks.OrderBy(info => info.Created).ToArray();
    }

    /// <summary>
    /// Takes a lock: fails if a live conflicting lock exists; otherwise writes the lock and lists again, so that two
    /// clients racing for conflicting locks both see each other and both back off (neither proceeds unprotected).
    /// </summary>
    internal static async Task<RepositoryLock> AcquireAsync(IRepositoryBackend backend, LockKind kind, string operation, LockOptions options, CancellationToken cancellationToken)
    {
        CheckConflicts(await ListAsync(backend, cancellationToken).ConfigureAwait(false), kind, operation, null, options);
        var now = DateTimeOffset.UtcNow;
        var info = new LockInfo
        {
            Kind = kind,
            Operation = operation,
            Host = Environment.MachineName,
            Pid = Environment.ProcessId,
            ApplianceId = options.ApplianceId,
            Created = now,
            Refreshed = now,
            Key = Prefix + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)),
        };
        await backend.PutAsync(info.Key, Serialize(info), PutMode.CreateNew, cancellationToken).ConfigureAwait(false);
        try
        {
            CheckConflicts(await ListAsync(backend, cancellationToken).ConfigureAwait(false), kind, operation, info.Key, options);
        }
        catch
        {
            await backend.DeleteAsync(info.Key, CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        return new RepositoryLock(backend, info, options);
    }

    private static void CheckConflicts(IReadOnlyList<LockInfo> locks, LockKind kind, string operation, string? ownKey, LockOptions options)
    {
        var now = DateTimeOffset.UtcNow;
        var conflicting = locks
            .Where(other => other.Key != ownKey && !other.IsStale(now, options.StaleAfter) && (kind == LockKind.Exclusive || other.Kind == LockKind.Exclusive))
            .ToArray();
        if (conflicting.Length > 0)
        {
            throw new RepositoryLockedException(
                $"cannot take a {kind.ToString().ToLowerInvariant()} lock for {operation}: the repository is locked by {string.Join("; ", conflicting.Select(other => other.Describe()))}",
                conflicting);
        }
    }

    private static byte[] Serialize(LockInfo info) => JsonSerializer.SerializeToUtf8Bytes(info, RepositoryJson.Options);

    private async Task RefreshLoopAsync(TimeSpan interval)
    {
        await Task.Yield();
        using var timer = new PeriodicTimer(interval);
        while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
        {
            try
            {
                await RefreshAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                _refreshFailure = exception;
            }
        }
    }
}
