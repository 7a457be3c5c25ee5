namespace Backup.Policies.Retention;

/// <summary>A restore point as retention sees it: its id, when it was taken and which VM it holds.</summary>
public sealed record PointInfo(string Id, DateTimeOffset Time, string Vm);
