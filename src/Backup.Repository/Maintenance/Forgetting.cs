using Backup.Repository.Manifests;

namespace Backup.Repository.Maintenance;

/// <summary>
/// Forget: deletes restore point manifests, nothing else (gc reclaims the data later). Rules of the keep-last policy:
/// points are grouped by VM; within a VM the <c>N</c> newest readable points (by time, then id) are kept and
/// older ones forgotten; points whose manifest cannot be read are never forgotten by a policy (only by id), so damage
/// is not hidden; N must be at least 1.
/// </summary>
internal static class Forgetting
{
    public static (IReadOnlyList<RestorePointSummary> Remove, IReadOnlyList<RestorePointSummary> Keep) KeepLast(IReadOnlyList<RestorePointSummary> points, int keepLast, string? vm)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(keepLast, 1);
        var remove = new List<RestorePointSummary>();
        var keep = new List<RestorePointSummary>();
        foreach (var group in points.GroupBy(point => point.Vm))
        {
            if (group.Key is null || (vm is not null && group.Key != vm))
            {
                keep.AddRange(group);
                continue;
            }

            var newestFirst = group.OrderByDescending(point => point.Time).ThenByDescending(point => point.Id, StringComparer.Ordinal).ToArray();
            keep.AddRange(newestFirst.Take(keepLast));
            remove.AddRange(newestFirst.Skip(keepLast));
        }

        return (remove.OrderBy(p => p.Id, StringComparer.Ordinal).ToArray(), keep.OrderBy(p => p.Id, StringComparer.Ordinal).ToArray());
    }
}
