namespace Backup.Repository.Verification;

/// <summary>A restore point that cannot be fully restored, and why (naming the objects at fault).</summary>
public sealed record DamagedPoint(string PointId, string? Vm, IReadOnlyList<string> Problems);
