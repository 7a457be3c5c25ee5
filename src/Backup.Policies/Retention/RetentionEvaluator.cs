using System.Globalization;

namespace Backup.Policies.Retention;

/// <summary>
/// Decides which restore points a policy keeps (see <see cref="RetentionRules"/> for the rules). Points of different
/// VMs are judged separately: each VM keeps its own newest point, its own last N, and so on.
/// </summary>
public static class RetentionEvaluator
{
    /// <summary>
    /// One decision per point, in the order given. Points are ranked newest first by <see cref="PointInfo.Time"/>;
    /// points taken at the same instant are ranked by id (ordinal, the greater id counts as newer) so the outcome never
    /// depends on input order. Periods are calendar hours, days, ISO weeks, months and years of wall-clock time in
    /// <paramref name="timeZone"/>: across a daylight-saving change, a repeated hour is one hourly period and a skipped
    /// hour none. Throws <see cref="ArgumentException"/> when two points share an id.
    /// </summary>
    public static IReadOnlyList<RetentionDecision> Evaluate(IEnumerable<PointInfo> points, RetentionRules rules, TimeZoneInfo timeZone)
    {
        ArgumentNullException.ThrowIfNull(points);
        ArgumentNullException.ThrowIfNull(rules);
        ArgumentNullException.ThrowIfNull(timeZone);
        var list = points.ToList();
        var reasons = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var point in list)
        {
            ArgumentNullException.ThrowIfNull(point, nameof(points));
            if (!reasons.TryAdd(point.Id, []))
            {
                throw new ArgumentException($"restore point id '{point.Id}' appears twice", nameof(points));
            }
        }

        foreach (var group in list.GroupBy(p => p.Vm, StringComparer.Ordinal))
        {
            var newestFirst = group
                .OrderByDescending(p => p.Time.UtcDateTime)
                .ThenByDescending(p => p.Id, StringComparer.Ordinal)
                .ToList();
            if (rules.IsKeepEverything)
            {
                foreach (var point in newestFirst)
                {
                    reasons[point.Id].Add("no retention rules");
                }

                continue;
            }

            reasons[newestFirst[0].Id].Add("newest");
            for (var i = 0; i < Math.Min(rules.KeepLast, newestFirst.Count); i++)
            {
                reasons[newestFirst[i].Id].Add($"keep-last #{i + 1}");
            }

            ApplyBuckets(newestFirst, reasons, "keep-hourly", rules.KeepHourly, timeZone, t => t.ToString("yyyy-MM-dd HH':00'", CultureInfo.InvariantCulture));
            ApplyBuckets(newestFirst, reasons, "keep-daily", rules.KeepDaily, timeZone, t => t.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
            ApplyBuckets(newestFirst, reasons, "keep-weekly", rules.KeepWeekly, timeZone, t => string.Create(CultureInfo.InvariantCulture, $"{ISOWeek.GetYear(t):D4}-W{ISOWeek.GetWeekOfYear(t):D2}"));
            ApplyBuckets(newestFirst, reasons, "keep-monthly", rules.KeepMonthly, timeZone, t => t.ToString("yyyy-MM", CultureInfo.InvariantCulture));
            ApplyBuckets(newestFirst, reasons, "keep-yearly", rules.KeepYearly, timeZone, t => t.ToString("yyyy", CultureInfo.InvariantCulture));
        }

        return list.Select(p => new RetentionDecision(p, reasons[p.Id].Count > 0, reasons[p.Id])).ToList();
    }

    private static void ApplyBuckets(List<PointInfo> newestFirst, Dictionary<string, List<string>> reasons, string rule, int count, TimeZoneInfo timeZone, Func<DateTime, string> period)
    {
        var periods = new HashSet<string>(StringComparer.Ordinal);
        var kept = 0;
        foreach (var point in newestFirst)
        {
            if (kept >= count)
            {
                return;
            }

            var local = TimeZoneInfo.ConvertTime(point.Time, timeZone).DateTime;
            var key = period(local);
            if (periods.Add(key))
            {
                reasons[point.Id].Add($"{rule} {key}");
                kept++;
            }
        }
    }
}
