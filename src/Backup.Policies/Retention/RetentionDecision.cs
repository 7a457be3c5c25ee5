namespace Backup.Policies.Retention;

/// <summary>
/// Whether a restore point is kept, and why: every rule that keeps it (e.g. <c>keep-daily 2026-11-20</c>,
/// <c>keep-last #3</c>, <c>newest</c>). A forgotten point has no reasons.
/// </summary>
public sealed record RetentionDecision(PointInfo Point, bool Keep, IReadOnlyList<string> Reasons)
{
    /// <summary><c>keep id (reasons)</c> or <c>forget id</c>.</summary>
    public override string ToString() => Keep ? $"keep {Point.Id} ({string.Join(", ", Reasons)})" : $"forget {Point.Id}";
}
