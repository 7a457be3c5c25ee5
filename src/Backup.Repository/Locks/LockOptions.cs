namespace Backup.Repository.Locks;

/// <summary>Timing of locks (format §12): refreshed every 5 minutes, stale when not refreshed for 30 minutes.</summary>
public sealed record LockOptions
{
    /// <summary>How often a held lock is rewritten with a new refresh time.</summary>
    public TimeSpan RefreshInterval { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>A lock not refreshed for this long is stale: it no longer blocks anyone and may be removed.</summary>
    public TimeSpan StaleAfter { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>Identifies this appliance in lock files (default: the host name).</summary>
    public string ApplianceId { get; init; } = Environment.MachineName;
}
