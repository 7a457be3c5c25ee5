using System.Runtime.CompilerServices;

namespace Backup.Repository.Backends.Faults;

/// <summary>
/// Wraps a real backend and applies chosen faults to chosen operations, to prove that the repository survives
/// failures: the rule sees each operation and key (the prefix for lists) and returns a <see cref="BackendFault"/> or
/// null. Faults: errors before or after the operation, delays before (slow responses, timeouts) or after (late
/// responses), truncated or corrupted reads, and truncated or corrupted writes (silently stored, or refused).
/// </summary>
public sealed class FaultInjectingBackend : IRepositoryBackend
{
    private readonly IRepositoryBackend _inner;
    private readonly Func<BackendOperation, string, BackendFault?> _rule;
    private long _injected;

    /// <summary>Fails operations with the exception <paramref name="rule"/> returns (null lets the operation through).</summary>
    public FaultInjectingBackend(IRepositoryBackend inner, Func<BackendOperation, string, Exception?> rule)
        : this(inner, ErrorsOnly(rule))
    {
    }

    /// <summary>Applies the fault <paramref name="rule"/> returns (null lets the operation through untouched).</summary>
    public FaultInjectingBackend(IRepositoryBackend inner, Func<BackendOperation, string, BackendFault?> rule)
    {
        _inner = inner ?? throw new ArgumentNullException(nameof(inner));
        _rule = rule ?? throw new ArgumentNullException(nameof(rule));
    }

    /// <inheritdoc />
    public string Location => _inner.Location;

    /// <summary>How many faults have been applied.</summary>
    public long InjectedFaults => Interlocked.Read(ref _injected);

    /// <inheritdoc />
    public async Task PutAsync(string key, ReadOnlyMemory<byte> data, PutMode mode, CancellationToken cancellationToken = default)
    {
        var fault = await BeforeAsync(BackendOperation.Put, key, cancellationToken).ConfigureAwait(false);
        if (fault?.Kind is BackendFaultKind.TruncateWrite or BackendFaultKind.CorruptWrite)
        {
            if (!fault.Silent)
            {
                throw new BackendTransientException($"injected: the store refused damaged bytes for '{key}' (checksum mismatch)");
            }

            data = fault.Kind == BackendFaultKind.TruncateWrite ? Truncate(data.ToArray(), fault.Keep) : Corrupt(data.ToArray());
        }

        await _inner.PutAsync(key, data, mode, cancellationToken).ConfigureAwait(false);
        await AfterAsync(fault, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<byte[]> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        var fault = await BeforeAsync(BackendOperation.Get, key, cancellationToken).ConfigureAwait(false);
        var bytes = await _inner.GetAsync(key, cancellationToken).ConfigureAwait(false);
        await AfterAsync(fault, cancellationToken).ConfigureAwait(false);
        return Damage(bytes, fault);
    }

    /// <inheritdoc />
    public async Task<byte[]> GetRangeAsync(string key, long offset, int length, CancellationToken cancellationToken = default)
    {
        var fault = await BeforeAsync(BackendOperation.GetRange, key, cancellationToken).ConfigureAwait(false);
        var bytes = await _inner.GetRangeAsync(key, offset, length, cancellationToken).ConfigureAwait(false);
        await AfterAsync(fault, cancellationToken).ConfigureAwait(false);
        return Damage(bytes, fault);
    }

    /// <inheritdoc />
    public async Task<bool> ExistsAsync(string key, CancellationToken cancellationToken = default)
    {
        var fault = await BeforeAsync(BackendOperation.Exists, key, cancellationToken).ConfigureAwait(false);
        var exists = await _inner.ExistsAsync(key, cancellationToken).ConfigureAwait(false);
        await AfterAsync(fault, cancellationToken).ConfigureAwait(false);
        return exists;
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<BackendObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var fault = await BeforeAsync(BackendOperation.List, prefix, cancellationToken).ConfigureAwait(false);
        await foreach (var item in _inner.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
        {
            yield return item;
        }

        await AfterAsync(fault, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        var fault = await BeforeAsync(BackendOperation.Delete, key, cancellationToken).ConfigureAwait(false);
        await _inner.DeleteAsync(key, cancellationToken).ConfigureAwait(false);
        await AfterAsync(fault, cancellationToken).ConfigureAwait(false);
    }

    private static Func<BackendOperation, string, BackendFault?> ErrorsOnly(Func<BackendOperation, string, Exception?> rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        return (operation, key) => rule(operation, key) is { } error ? BackendFault.Throw(error) : null;
    }

    private async Task<BackendFault?> BeforeAsync(BackendOperation operation, string key, CancellationToken cancellationToken)
    {
        var fault = _rule(operation, key);
        if (fault is null)
        {
            return null;
        }

        Interlocked.Increment(ref _injected);
        switch (fault.Kind)
        {
            case BackendFaultKind.Error:
                throw fault.Error!;
            case BackendFaultKind.Delay:
                await Task.Delay(fault.Delay, cancellationToken).ConfigureAwait(false);
                break;
            default:
                break;
        }

        return fault;
    }

    private static async Task AfterAsync(BackendFault? fault, CancellationToken cancellationToken)
    {
        switch (fault?.Kind)
        {
            case BackendFaultKind.ErrorAfter:
                throw fault.Error!;
            case BackendFaultKind.DelayAfter:
                await Task.Delay(fault.Delay, cancellationToken).ConfigureAwait(false);
                break;
            default:
                break;
        }
    }

    private static byte[] Damage(byte[] bytes, BackendFault? fault) => fault?.Kind switch
    {
        BackendFaultKind.TruncateRead => Truncate(bytes, fault.Keep),
        BackendFaultKind.CorruptRead => Corrupt(bytes),
        _ => bytes,
    };

    private static byte[] Truncate(byte[] bytes, double keep) =>
        bytes.Length == 0 ? bytes : bytes[..Math.Clamp((int)(bytes.Length * keep), 0, bytes.Length - 1)];

    private static byte[] Corrupt(byte[] bytes)
    {
        if (bytes.Length > 0)
        {
            bytes = (byte[])bytes.Clone();
            bytes[bytes.Length / 2] ^= 0x5a;
        }

        return bytes;
    }
}
