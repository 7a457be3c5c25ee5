namespace Backup.Repository.Backends.Faults;

/// <summary>One fault a <see cref="FaultInjectingBackend"/> applies to one operation.</summary>
public sealed record BackendFault
{
    public BackendFaultKind Kind { get; init; }

    /// <summary>The exception for <see cref="BackendFaultKind.Error"/> and <see cref="BackendFaultKind.ErrorAfter"/>.</summary>
    public Exception? Error { get; init; }

    /// <summary>The wait for <see cref="BackendFaultKind.Delay"/> and <see cref="BackendFaultKind.DelayAfter"/> (honours cancellation).</summary>
    public TimeSpan Delay { get; init; }

    /// <summary>Fraction of the bytes kept by truncations (at least one byte is always lost from a non-empty payload).</summary>
    public double Keep { get; init; } = 0.5;

    /// <summary>
    /// For damaged writes: true stores the damaged bytes and reports success (a store without transport checksums);
    /// false stores nothing and fails transiently, as S3 and Azure do when Content-MD5 does not match.
    /// </summary>
    public bool Silent { get; init; }

    public static BackendFault Throw(Exception error) => new() { Kind = BackendFaultKind.Error, Error = error ?? throw new ArgumentNullException(nameof(error)) };

    public static BackendFault ThrowAfter(Exception error) => new() { Kind = BackendFaultKind.ErrorAfter, Error = error ?? throw new ArgumentNullException(nameof(error)) };

    public static BackendFault Slow(TimeSpan delay) => new() { Kind = BackendFaultKind.Delay, Delay = delay };

    public static BackendFault LateResponse(TimeSpan delay) => new() { Kind = BackendFaultKind.DelayAfter, Delay = delay };

    public static BackendFault TruncatedRead(double keep = 0.5) => new() { Kind = BackendFaultKind.TruncateRead, Keep = keep };

    public static BackendFault CorruptedRead() => new() { Kind = BackendFaultKind.CorruptRead };

    public static BackendFault TruncatedWrite(bool silent, double keep = 0.5) => new() { Kind = BackendFaultKind.TruncateWrite, Silent = silent, Keep = keep };

    public static BackendFault CorruptedWrite(bool silent) => new() { Kind = BackendFaultKind.CorruptWrite, Silent = silent };
}
