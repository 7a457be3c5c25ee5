using Backup.Policies.Retention;
using Backup.Policies.Scheduling;

namespace Backup.Policies.Model;

/// <summary>
/// A protection policy: which VMs are backed up, when, into which repository, how consistent, how long points are
/// kept and how often the repository is verified. Loaded from <c>policies/*.yaml</c> by
/// <see cref="Loading.PolicySet.LoadDirectory"/>; immutable.
/// </summary>
public sealed class Policy
{
    /// <summary>The agent timeout used when an application-consistent policy gives none.</summary>
    public static readonly TimeSpan DefaultAgentTimeout = TimeSpan.FromSeconds(60);

    /// <summary>The policy's unique name.</summary>
    public required string Name { get; init; }

    /// <summary>False when the policy is switched off (<c>enabled: false</c>): it is loaded and validated but never runs.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>The VMs protected.</summary>
    public required VmSelection Vms { get; init; }

    /// <summary>When backups run, and in which time zone.</summary>
    public required CronSchedule Schedule { get; init; }

    /// <summary>
    /// The policy's time zone (<c>time-zone</c>, else the appliance's local zone): schedules are read in it, and it is
    /// the zone to pass to <see cref="RetentionEvaluator.Evaluate"/> so periods are the policy's days and hours.
    /// </summary>
    public TimeZoneInfo TimeZone => Schedule.TimeZone;

    /// <summary>Where restore points are written.</summary>
    public required RepositoryTarget Repository { get; init; }

    /// <summary>Where the repository passphrase comes from.</summary>
    public PassphraseSource Passphrase { get; init; } = PassphraseFromDefaultKeyFile.Instance;

    /// <summary>Crash- or application-consistent.</summary>
    public ConsistencyMode Consistency { get; init; } = ConsistencyMode.Crash;

    /// <summary>
    /// For <see cref="ConsistencyMode.Application"/>: how long the guest agent may take to freeze the guest before the
    /// backup goes ahead crash-consistent (and says so). Unused for crash consistency.
    /// </summary>
    public TimeSpan AgentTimeout { get; init; } = DefaultAgentTimeout;

    /// <summary>Which restore points are kept; <see cref="RetentionRules.KeepEverything"/> when the policy sets none.</summary>
    public RetentionRules Retention { get; init; } = RetentionRules.KeepEverything;

    /// <summary>Scheduled verification of the repository; null when the policy sets none.</summary>
    public VerificationSettings? Verification { get; init; }

    /// <summary>Where the policy was defined (file, line and column of its <c>name</c>).</summary>
    public required PolicyLocation Location { get; init; }

    /// <summary>Whether this policy protects the VM named <paramref name="vmName"/> (regardless of <see cref="Enabled"/>).</summary>
    public bool Covers(string vmName) => Vms.Includes(vmName);

    /// <summary>The first backup time strictly after <paramref name="after"/>, in UTC; null when the schedule never fires again.</summary>
    public DateTimeOffset? NextFireTime(DateTimeOffset after) => Schedule.NextFireTime(after);

    /// <summary>
    /// The most recent backup time in (<paramref name="lastRun"/>, <paramref name="now"/>], in UTC, or null when none
    /// was due: at start the service runs a missed backup once, however many were missed.
    /// </summary>
    public DateTimeOffset? MissedFireTime(DateTimeOffset lastRun, DateTimeOffset now) => Schedule.MissedFireTime(lastRun, now);

    /// <summary>The name and where it was defined.</summary>
    public override string ToString() => $"{Name} ({Location})";
}
