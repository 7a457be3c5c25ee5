using System.Runtime.CompilerServices;

namespace Backup.Repository.Backends.Faults;

/// <summary>
/// Wraps a real backend and fails chosen operations before they reach it, to prove that the repository survives
/// failures (a writer dying mid-backup, a network error): the rule sees each operation and key and returns the
/// exception to throw, or null to let the operation through.
/// Later phases add timeouts, slow and truncated responses.
/// </summary>
public sealed class FaultInjectingBackend : IRepositoryBackend
{
    private readonly IRepositoryBackend _inner;
    private readonly Func<BackendOperation, string, Exception?> _rule;

    public FaultInjectingBackend(IRepositoryBackend inner, Func<BackendOperation, string, Exception?> rule)
    {
        _inner = inner ?? throw new ArgumentNullException(nameof(inner));
        _rule = rule ?? throw new ArgumentNullException(nameof(rule));
    }

    /// <inheritdoc />
    public string Location => _inner.Location;

    /// <inheritdoc />
    public Task PutAsync(string key, ReadOnlyMemory<byte> data, PutMode mode, CancellationToken cancellationToken = default)
    {
        Inject(BackendOperation.Put, key);
        return _inner.PutAsync(key, data, mode, cancellationToken);
    }

    /// <inheritdoc />
    public Task<byte[]> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        Inject(BackendOperation.Get, key);
        return _inner.GetAsync(key, cancellationToken);
    }

    /// <inheritdoc />
    public Task<byte[]> GetRangeAsync(string key, long offset, int length, CancellationToken cancellationToken = default)
    {
        Inject(BackendOperation.GetRange, key);
        return _inner.GetRangeAsync(key, offset, length, cancellationToken);
    }

    /// <inheritdoc />
    public Task<bool> ExistsAsync(string key, CancellationToken cancellationToken = default)
    {
        Inject(BackendOperation.Exists, key);
        return _inner.ExistsAsync(key, cancellationToken);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<BackendObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        Inject(BackendOperation.List, prefix);
        await foreach (var item in _inner.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
        {
            yield return item;
        }
    }

    /// <inheritdoc />
    public Task DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        Inject(BackendOperation.Delete, key);
        return _inner.DeleteAsync(key, cancellationToken);
    }

    private void Inject(BackendOperation operation, string key)
    {
        var fault = _rule(operation, key);
        if (fault is not null)
        {
            throw fault;
        }
    }
}
