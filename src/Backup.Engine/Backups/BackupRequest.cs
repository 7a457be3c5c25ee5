namespace Backup.Engine.Backups;

/// <summary>Options of one backup.</summary>
public sealed record BackupRequest
{
    public BackupConsistency Consistency { get; init; } = BackupConsistency.Crash;

    /// <summary>How long the guest agent may take to freeze (application-consistent backups).</summary>
    public TimeSpan AgentTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Folder for the checkpoint file while it is uploaded (deleted afterwards).</summary>
    public required string WorkDirectory { get; init; }
}
