namespace Backup.Repository.Backends.Resilience;

/// <summary>
/// How <see cref="RetryingBackend"/> retries: exponential backoff with jitter, bounded both in attempts and in total
/// time, with a timeout per attempt. Only <see cref="BackendTransientException"/> and attempt timeouts are retried.
/// </summary>
public sealed record RetryPolicy
{
    /// <summary>The default policy: 6 attempts, 0.2 s doubling to at most 10 s, 10 minutes in all, 2 minutes per attempt.</summary>
    public static RetryPolicy Default { get; } = new();

    /// <summary>One attempt, no retries (reads are still length-checked).</summary>
    public static RetryPolicy None { get; } = new() { MaxAttempts = 1 };

    /// <summary>Attempts per operation, the first included (at least 1).</summary>
    public int MaxAttempts { get; init; } = 6;

    /// <summary>Backoff before the first retry; it doubles on each further retry.</summary>
    public TimeSpan InitialDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Largest backoff between two attempts.</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>No retry starts once this much time has passed since the first attempt.</summary>
    public TimeSpan MaxTotalTime { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>An attempt still running after this long is cancelled and counts as a transient failure.</summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Check that reads returned the whole object or range: a short ranged read, and every whole read, is compared
    /// with the object's length from a LIST of its exact key; a mismatch is retried as a truncated read.
    /// </summary>
    public bool VerifyReadLengths { get; init; } = true;

    /// <summary>
    /// Read every written object back and compare it with what was sent (doubles the traffic). Only needed on stores
    /// without transport checksums; the S3 and Azure backends send Content-MD5, so the service refuses damaged bytes.
    /// </summary>
    public bool VerifyWrites { get; init; }

    /// <summary>The backoff before retry number <paramref name="retry"/> (1-based): half fixed, half random ("equal jitter").</summary>
    public TimeSpan DelayBefore(int retry, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var ceiling = Math.Min(MaxDelay.TotalMilliseconds, InitialDelay.TotalMilliseconds * Math.Pow(2, Math.Max(0, retry - 1)));
        return TimeSpan.FromMilliseconds((ceiling / 2) + (random.NextDouble() * ceiling / 2));
    }
}
