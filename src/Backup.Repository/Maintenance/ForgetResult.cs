using Backup.Repository.Manifests;

namespace Backup.Repository.Maintenance;

/// <summary>What forget removed (or, in a dry run, would remove) and what it kept.</summary>
public sealed record ForgetResult(IReadOnlyList<RestorePointSummary> Removed, IReadOnlyList<RestorePointSummary> Kept, bool DryRun);
