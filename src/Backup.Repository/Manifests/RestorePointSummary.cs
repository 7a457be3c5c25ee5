namespace Backup.Repository.Manifests;

/// <summary>One line of a restore point listing. <see cref="Problem"/> is set when the manifest cannot be read.</summary>
public sealed record RestorePointSummary(string Id, string? Vm, DateTimeOffset? Time, IReadOnlyList<string> Disks, long TotalDiskBytes, string? Problem);
