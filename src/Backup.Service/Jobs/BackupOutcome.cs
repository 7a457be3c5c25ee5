using Backup.Engine.Backups;

namespace Backup.Service.Jobs;

/// <summary>How a backup job ended: its job id and status, the restore point when one was committed, and what retention forgot.</summary>
public sealed record BackupOutcome
{
    public required long JobId { get; init; }

    public required string Status { get; init; }

    public string? Message { get; init; }

    public BackupResult? Result { get; init; }

    public IReadOnlyList<string> Forgotten { get; init; } = [];
}
