namespace Backup.Disks.ChangeTracking;

/// <summary>
/// Whether a disk's changed-block bitmap can be trusted for an incremental backup.
/// When <see cref="Trusted"/> is false the next snapshot's changed map reports every block, with <see cref="Reason"/>;
/// trust returns once a backup taken after the problem completes.
/// </summary>
/// <param name="Trusted">True when the bitmap covers every write since the last completed backup.</param>
/// <param name="Reason">A sentence saying why (for logs and backup reports); never empty.</param>
/// <param name="Cause">The machine-readable cause; <see cref="DistrustCause.None"/> when trusted.</param>
public sealed record ChangeTrackingState(bool Trusted, string Reason, DistrustCause Cause)
{
    /// <summary>The state of a tracker that has seen every write since the last completed backup.</summary>
    public static ChangeTrackingState TrustedState { get; } =
        new(true, "every write since the last completed backup was tracked", DistrustCause.None);

    /// <summary>An untrusted state with its cause and reason.</summary>
    public static ChangeTrackingState Untrusted(DistrustCause cause, string reason)
    {
        if (cause == DistrustCause.None)
        {
            throw new ArgumentException("an untrusted state needs a cause", nameof(cause));
        }

        return new ChangeTrackingState(false, reason, cause);
    }
}
