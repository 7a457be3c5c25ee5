using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Backup.Repository.Backends.Resilience;

/// <summary>
/// Retries transient backend failures (<see cref="BackendTransientException"/>, attempt timeouts) with the backoff of
/// its <see cref="RetryPolicy"/>; other errors (not found, exists, refused, bad arguments) pass through at once.
/// A create-only put is never repeated blindly: after an ambiguous failure (the request may have landed) the next
/// attempt first reads the key; if it holds exactly our bytes the put succeeded, if it holds other bytes another writer
/// won (<see cref="BackendObjectExistsException"/>), and only if it is absent is the put sent again.
/// Reads are length-checked (see <see cref="RetryPolicy.VerifyReadLengths"/>) so a truncated response is retried
/// rather than returned.
/// </summary>
public sealed class RetryingBackend : IRepositoryBackend, IDisposable
{
    private readonly IRepositoryBackend _inner;
    private readonly RetryPolicy _policy;
    private long _retries;

    public RetryingBackend(IRepositoryBackend inner, RetryPolicy? policy = null)
    {
        _inner = inner ?? throw new ArgumentNullException(nameof(inner));
        _policy = policy ?? RetryPolicy.Default;
        if (_policy.MaxAttempts < 1)
        {
            throw new ArgumentException("a retry policy needs at least one attempt", nameof(policy));
        }
    }

    /// <summary>The wrapped backend.</summary>
    public IRepositoryBackend Inner => _inner;

    /// <summary>The policy in force.</summary>
    public RetryPolicy Policy => _policy;

    /// <summary>How many retries this instance has made (for diagnostics and tests).</summary>
    public long Retries => Interlocked.Read(ref _retries);

    /// <inheritdoc />
    public string Location => _inner.Location;

    /// <inheritdoc />
    public Task PutAsync(string key, ReadOnlyMemory<byte> data, PutMode mode, CancellationToken cancellationToken = default)
    {
        var ambiguous = false;
        var ownedButDamaged = false;
        return RetryAsync($"writing '{key}'", async token =>
        {
            var effectiveMode = mode;
            if (ownedButDamaged)
            {
                // Our own put created the key but the stored bytes are wrong: replacing them cannot hurt another writer.
                effectiveMode = PutMode.Overwrite;
            }
            else if (mode == PutMode.CreateNew && ambiguous)
            {
                var existing = await TryReadVerifiedAsync(key, token).ConfigureAwait(false);
                if (existing is not null)
                {
                    return existing.AsSpan().SequenceEqual(data.Span)
                        ? true
                        : throw new BackendObjectExistsException(key, Location);
                }
            }

            try
            {
                await _inner.PutAsync(key, data, effectiveMode, token).ConfigureAwait(false);
            }
            catch (BackendTransientException)
            {
                ambiguous = true;
                throw;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                ambiguous = true;
                throw;
            }

            if (_policy.VerifyWrites)
            {
                // The put succeeded, so the key is ours: if the read-back fails or finds it damaged, retries replace it
                // (a create-only retry would otherwise find its own damaged object and refuse).
                ownedButDamaged = true;
                ambiguous = true;
                var stored = await TryReadVerifiedAsync(key, token).ConfigureAwait(false);
                if (stored is null || !stored.AsSpan().SequenceEqual(data.Span))
                {
                    ownedButDamaged = stored is not null;
                    throw new BackendTransientException($"'{key}' in {Location} does not read back as written ({(stored is null ? "missing" : $"{stored.Length} bytes, expected {data.Length}")})");
                }
            }

            return true;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<byte[]> GetAsync(string key, CancellationToken cancellationToken = default) =>
        RetryAsync($"reading '{key}'", token => ReadVerifiedAsync(key, token), cancellationToken);

    /// <inheritdoc />
    public Task<byte[]> GetRangeAsync(string key, long offset, int length, CancellationToken cancellationToken = default) =>
        RetryAsync($"reading {length} bytes at {offset} of '{key}'", async token =>
        {
            var bytes = await _inner.GetRangeAsync(key, offset, length, token).ConfigureAwait(false);
            if (bytes.Length > length)
            {
                throw new BackendTransientException($"reading '{key}' from {Location} returned {bytes.Length} bytes for a range of {length}");
            }

            if (bytes.Length < length && _policy.VerifyReadLengths && await LengthOfAsync(key, token).ConfigureAwait(false) is { } total)
            {
                var expected = Math.Max(0, Math.Min(length, total - offset));
                if (bytes.Length != expected)
                {
                    throw new BackendTransientException($"reading '{key}' from {Location} was truncated: {bytes.Length} of {expected} bytes at {offset}");
                }
            }

            return bytes;
        }, cancellationToken);

    /// <inheritdoc />
    public Task<int> ReadRangeAsync(string key, long offset, Memory<byte> destination, CancellationToken cancellationToken = default) =>
        RetryAsync($"reading {destination.Length} bytes at {offset} of '{key}'", async token =>
        {
            var read = await _inner.ReadRangeAsync(key, offset, destination, token).ConfigureAwait(false);
            if (read < destination.Length && _policy.VerifyReadLengths && await LengthOfAsync(key, token).ConfigureAwait(false) is { } total)
            {
                var expected = Math.Max(0, Math.Min(destination.Length, total - offset));
                if (read != expected)
                {
                    throw new BackendTransientException($"reading '{key}' from {Location} was truncated: {read} of {expected} bytes at {offset}");
                }
            }

            return read;
        }, cancellationToken);

    /// <inheritdoc />
    public Task<bool> ExistsAsync(string key, CancellationToken cancellationToken = default) =>
        RetryAsync($"checking '{key}'", token => _inner.ExistsAsync(key, token), cancellationToken);

    /// <inheritdoc />
    public async IAsyncEnumerable<BackendObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        // A listing is collected whole inside one attempt, so a retry never yields an item twice.
        var items = await RetryAsync($"listing '{prefix}'", async token =>
        {
            var list = new List<BackendObjectInfo>();
            await foreach (var item in _inner.ListAsync(prefix, token).ConfigureAwait(false))
            {
                list.Add(item);
            }

            return list;
        }, cancellationToken).ConfigureAwait(false);
        foreach (var item in items)
        {
            yield return item;
        }
    }

    /// <inheritdoc />
    public Task DeleteAsync(string key, CancellationToken cancellationToken = default) =>
        RetryAsync($"deleting '{key}'", async token =>
        {
            await _inner.DeleteAsync(key, token).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    public void Dispose() => (_inner as IDisposable)?.Dispose();

    private async Task<byte[]> ReadVerifiedAsync(string key, CancellationToken cancellationToken)
    {
        var bytes = await _inner.GetAsync(key, cancellationToken).ConfigureAwait(false);
        if (_policy.VerifyReadLengths && await LengthOfAsync(key, cancellationToken).ConfigureAwait(false) is { } length && length != bytes.Length)
        {
            throw new BackendTransientException($"reading '{key}' from {Location} was truncated: {bytes.Length} of {length} bytes");
        }

        return bytes;
    }

    private async Task<byte[]?> TryReadVerifiedAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            return await ReadVerifiedAsync(key, cancellationToken).ConfigureAwait(false);
        }
        catch (BackendObjectNotFoundException)
        {
            return null;
        }
    }

    private async Task<long?> LengthOfAsync(string key, CancellationToken cancellationToken)
    {
        await foreach (var item in _inner.ListAsync(key, cancellationToken).ConfigureAwait(false))
        {
            if (item.Key == key)
            {
                return item.Length;
            }
        }

        return null;
    }

    private async Task<T> RetryAsync<T>(string what, Func<CancellationToken, Task<T>> attempt, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        for (var number = 1; ; number++)
        {
            Exception failure;
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                timeout.CancelAfter(_policy.AttemptTimeout);
                try
                {
                    return await attempt(timeout.Token).ConfigureAwait(false);
                }
                catch (BackendTransientException exception)
                {
                    failure = exception;
                }
                catch (OperationCanceledException exception) when (!cancellationToken.IsCancellationRequested)
                {
                    failure = new BackendTransientException($"{what} in {Location} timed out after {_policy.AttemptTimeout.TotalSeconds:0.###} s", exception);
                }
            }

            var elapsed = Stopwatch.GetElapsedTime(started);
            if (number >= _policy.MaxAttempts)
            {
                throw new BackendTransientException($"{what} in {Location} failed after {number} attempt(s) in {elapsed.TotalSeconds:0.0} s: {failure.Message}", failure);
            }

            var delay = _policy.DelayBefore(number, Random.Shared);
            if (elapsed + delay >= _policy.MaxTotalTime)
            {
                throw new BackendTransientException($"{what} in {Location} failed after {number} attempt(s); gave up at the {_policy.MaxTotalTime.TotalSeconds:0.###} s retry limit: {failure.Message}", failure);
            }

            Interlocked.Increment(ref _retries);
            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
        }
    }
}
