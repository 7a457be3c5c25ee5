using Backup.Repository.Writing;

namespace Backup.Engine.Backups;

/// <summary>A committed restore point and how it was made.</summary>
public sealed record BackupResult
{
    public required string PointId { get; init; }

    public required string Vm { get; init; }

    public required DateTimeOffset Time { get; init; }

    /// <summary>The restore point this one was made incremental to, or null.</summary>
    public string? ParentId { get; init; }

    /// <summary>"crash", "application", or "cold" (a stopped VM: its disks only).</summary>
    public required string Consistency { get; init; }

    /// <summary>Why an application-consistent cut fell back to crash-consistent, or null.</summary>
    public string? ConsistencyNote { get; init; }

    /// <summary>How long the guest was paused for the cut (zero for a stopped VM).</summary>
    public TimeSpan Stun { get; init; }

    /// <summary>True when the point holds the VM's memory and device state (it can be resumed).</summary>
    public bool HasMemoryState { get; init; }

    public required IReadOnlyList<DiskBackupResult> Disks { get; init; }

    public required WriteStatistics Statistics { get; init; }

    public TimeSpan Duration { get; init; }
}
