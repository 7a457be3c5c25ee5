using Backup.Repository.Locks;

namespace Backup.Repository.Maintenance;

/// <summary>Settings of garbage collection (format §12).</summary>
public sealed record GcOptions
{
    /// <summary>Default grace period: packs younger than this at the start of the mark phase are never touched.</summary>
    public static readonly TimeSpan DefaultGracePeriod = TimeSpan.FromHours(24);

    /// <summary>
    /// Packs (and unindexed pack objects) written less than this long before the mark phase started are neither
    /// deleted nor repacked, so chunks uploaded by a backup that has not committed its manifest yet survive. Must be
    /// longer than the longest backup session.
    /// </summary>
    public TimeSpan GracePeriod { get; init; } = DefaultGracePeriod;

    /// <summary>
    /// A partly referenced pack is repacked when at least this fraction of its bytes is unreferenced (0 = any dead
    /// blob triggers a repack; 1 = never repack, only delete wholly unreferenced packs).
    /// </summary>
    public double RepackThreshold { get; init; } = 0.1;

    /// <summary>When true, report what would happen without writing or deleting anything.</summary>
    public bool DryRun { get; init; }

    /// <summary>Timing of the exclusive lock gc holds.</summary>
    public LockOptions Lock { get; init; } = new();

    /// <summary>Progress messages (one line each).</summary>
    public IProgress<string>? Log { get; init; }
}
