namespace Backup.Repository.Backends.Faults;

/// <summary>What a <see cref="BackendFault"/> does to one operation.</summary>
public enum BackendFaultKind
{
    /// <summary>Throw before the operation reaches the store.</summary>
    Error,

    /// <summary>Run the operation, then throw: the request landed but its response was lost.</summary>
    ErrorAfter,

    /// <summary>Wait before the operation (a slow response, or a timeout when longer than the caller's per-call timeout).</summary>
    Delay,

    /// <summary>Run the operation, then wait: the request landed but the response came too late.</summary>
    DelayAfter,

    /// <summary>Return fewer bytes than the object or range holds (reads).</summary>
    TruncateRead,

    /// <summary>Return the bytes with one flipped (reads).</summary>
    CorruptRead,

    /// <summary>Write fewer bytes than given (puts); see <see cref="BackendFault.Silent"/>.</summary>
    TruncateWrite,

    /// <summary>Write the bytes with one flipped (puts); see <see cref="BackendFault.Silent"/>.</summary>
    CorruptWrite,
}
