using Backup.Engine.Backups;
using Backup.Repository.Manifests;

namespace Backup.Service.Scheduling;

/// <summary>
/// A protection policy as the service runs it: which VMs, when (a Quartz cron expression), where to and how, and
/// what retention forgets. Built from the policy files by <see cref="PolicyPlans"/>.
/// </summary>
public sealed record ProtectionPlan
{
    public required string Name { get; init; }

    /// <summary>Where the policy was defined (file path), for messages.</summary>
    public required string Source { get; init; }

    /// <summary>True when the policy covers the VM of that name.</summary>
    public required Func<string, bool> Covers { get; init; }

    /// <summary>Quartz cron expression (seconds first).</summary>
    public required string Cron { get; init; }

    public TimeZoneInfo TimeZone { get; init; } = TimeZoneInfo.Utc;

    public required string Repository { get; init; }

    public string PassphraseSource { get; init; } = Repositories.RepositoryAccess.DefaultPassphrase;

    public BackupConsistency Consistency { get; init; } = BackupConsistency.Crash;

    public TimeSpan AgentTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Retention over a VM's points (oldest first): the ids to forget; null keeps all.</summary>
    public Func<IReadOnlyList<RestorePointSummary>, IReadOnlyCollection<string>>? SelectForget { get; init; }

    /// <summary>The latest fire time in (<paramref name="lastRun"/>, <paramref name="now"/>], or null: a run the service missed.</summary>
    public required Func<DateTimeOffset, DateTimeOffset, DateTimeOffset?> MissedFireTime { get; init; }
}
