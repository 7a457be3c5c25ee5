using Backup.Engine.Backups;
using Backup.Repository.Manifests;

namespace Backup.Service.Jobs;

/// <summary>One backup to run: which VM, into which repository, how, and what to forget afterwards.</summary>
public sealed record BackupOrder
{
    public required string Vm { get; init; }

    /// <summary>Repository URL (relative folder paths are resolved against the data folder).</summary>
    public required string Repository { get; init; }

    /// <summary>"default", "env:VAR" or "file:PATH".</summary>
    public string PassphraseSource { get; init; } = Repositories.RepositoryAccess.DefaultPassphrase;

    public BackupConsistency Consistency { get; init; } = BackupConsistency.Crash;

    public TimeSpan AgentTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The policy that ordered it, or null (an operator's "backup now").</summary>
    public string? Policy { get; init; }

    /// <summary>"schedule", "missed run", "cli", "api".</summary>
    public required string Trigger { get; init; }

    /// <summary>When set, wait for a backup of the same VM that is already running; otherwise skip this one.</summary>
    public bool WaitIfBusy { get; init; }

    /// <summary>
    /// Retention: given the VM's readable restore points in the repository (oldest first), the ids to forget.
    /// Run after the new point is committed; null keeps everything.
    /// </summary>
    public Func<IReadOnlyList<RestorePointSummary>, IReadOnlyCollection<string>>? SelectForget { get; init; }
}
