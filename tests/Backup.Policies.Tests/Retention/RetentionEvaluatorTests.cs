using System.Globalization;
using Backup.Policies.Retention;

namespace Backup.Policies.Tests.Retention;

public sealed class RetentionEvaluatorTests
{
    private static readonly TimeZoneInfo Utc = TimeZoneInfo.Utc;
    private static readonly TimeZoneInfo Berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");
    private static readonly TimeZoneInfo NewYork = TimeZoneInfo.FindSystemTimeZoneById("America/New_York");

    /// <summary>Points "id@2026-11-20T10:00:00Z" (any offset), all of VM "vm".</summary>
    private static List<PointInfo> Points(params string[] points) =>
        points.Select(p => p.Split('@')).Select(p => new PointInfo(p[0], DateTimeOffset.Parse(p[1], CultureInfo.InvariantCulture), "vm")).ToList();

    private static string[] Kept(IEnumerable<PointInfo> points, RetentionRules rules, TimeZoneInfo zone) =>
        RetentionEvaluator.Evaluate(points, rules, zone).Where(d => d.Keep).Select(d => d.Point.Id).Order(StringComparer.Ordinal).ToArray();

    private static IReadOnlyList<string> ReasonsFor(IEnumerable<PointInfo> points, RetentionRules rules, TimeZoneInfo zone, string id) =>
        RetentionEvaluator.Evaluate(points, rules, zone).Single(d => d.Point.Id == id).Reasons;

    public static TheoryData<string, string[], RetentionRules, string[]> Table => new()
    {
        {
            "keep-last keeps the newest N",
            ["a@2026-11-20T01:00Z", "b@2026-11-20T02:00Z", "c@2026-11-20T03:00Z", "d@2026-11-20T04:00Z", "e@2026-11-20T05:00Z"],
            new RetentionRules(keepLast: 3),
            ["c", "d", "e"]
        },
        {
            "keep-last larger than the number of points keeps all",
            ["a@2026-11-20T01:00Z", "b@2026-11-20T02:00Z"],
            new RetentionRules(keepLast: 10),
            ["a", "b"]
        },
        {
            "keep-hourly keeps the newest point of each hour",
            ["a@2026-11-20T10:05Z", "b@2026-11-20T10:55Z", "c@2026-11-20T11:00Z", "d@2026-11-20T11:59:59Z", "e@2026-11-20T12:30Z"],
            new RetentionRules(keepHourly: 2),
            ["d", "e"]
        },
        {
            "keep-daily counts only days that hold points (gaps are skipped)",
            ["a@2026-11-01T10:00Z", "b@2026-11-01T20:00Z", "c@2026-11-05T08:00Z", "d@2026-11-20T09:00Z", "e@2026-11-20T10:00Z"],
            new RetentionRules(keepDaily: 3),
            ["b", "c", "e"]
        },
        {
            "keep-weekly uses ISO weeks: Mon 2025-12-29 and Fri 2026-01-02 are both 2026-W01",
            ["a@2025-12-28T12:00Z", "b@2025-12-29T12:00Z", "c@2026-01-02T12:00Z", "d@2026-01-05T12:00Z"],
            new RetentionRules(keepWeekly: 3),
            ["a", "c", "d"]
        },
        {
            "keep-monthly",
            ["a@2026-09-30T23:00Z", "b@2026-10-01T00:00Z", "c@2026-10-31T00:00Z", "d@2026-11-02T00:00Z"],
            new RetentionRules(keepMonthly: 2),
            ["c", "d"]
        },
        {
            "keep-yearly",
            ["a@2024-06-01T00:00Z", "b@2025-01-01T00:00Z", "c@2025-12-31T23:59Z", "d@2026-03-01T00:00Z"],
            new RetentionRules(keepYearly: 5),
            ["a", "c", "d"]
        },
        {
            "rules add up: a point kept by any rule is kept",
            ["a@2026-01-15T00:00Z", "b@2026-10-10T00:00Z", "c@2026-11-19T00:00Z", "d@2026-11-19T12:00Z", "e@2026-11-20T06:00Z", "f@2026-11-20T07:00Z"],
            new RetentionRules(keepLast: 1, keepDaily: 2, keepMonthly: 2),
            ["b", "d", "f"]
        },
        {
            "a lone point is the newest and is kept",
            ["a@2026-11-20T01:00Z"],
            new RetentionRules(keepYearly: 1),
            ["a"]
        },
        {
            "ties: at the same instant the greater id counts as newer",
            ["a@2026-11-20T10:00Z", "b@2026-11-20T10:00Z", "c@2026-11-20T09:00Z"],
            new RetentionRules(keepLast: 1),
            ["b"]
        },
        {
            "ties: same instant written with different offsets",
            ["x@2026-11-20T10:00:00+00:00", "w@2026-11-20T11:00:00+01:00"],
            new RetentionRules(keepHourly: 1),
            ["x"]
        },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void Kept_points_follow_restic_semantics(string why, string[] points, RetentionRules rules, string[] kept)
    {
        Assert.False(string.IsNullOrEmpty(why));
        Assert.Equal(kept, Kept(Points(points), rules, Utc));
        Assert.Equal(kept, Kept(Enumerable.Reverse(Points(points)), rules, Utc));
    }

    [Fact]
    public void Six_hourly_points_for_20_days_with_keep_last_2_and_keep_daily_5()
    {
        var points = Enumerable.Range(1, 20)
            .SelectMany(day => new[] { 0, 6, 12, 18 }.Select(hour => new PointInfo($"d{day:D2}h{hour:D2}", new DateTimeOffset(2026, 11, day, hour, 0, 0, TimeSpan.Zero), "vm")))
            .ToList();

        Assert.Equal(
            ["d16h18", "d17h18", "d18h18", "d19h18", "d20h12", "d20h18"],
            Kept(points, new RetentionRules(keepLast: 2, keepDaily: 5), Utc));
    }

    [Fact]
    public void Reasons_name_every_rule_and_period_that_keeps_a_point()
    {
        var points = Points("a@2026-11-19T08:00Z", "b@2026-11-20T06:00Z", "c@2026-11-20T07:00Z");
        var rules = new RetentionRules(keepLast: 2, keepHourly: 1, keepDaily: 2, keepWeekly: 1, keepMonthly: 1, keepYearly: 1);

        Assert.Equal(
            ["newest", "keep-last #1", "keep-hourly 2026-11-20 07:00", "keep-daily 2026-11-20", "keep-weekly 2026-W47", "keep-monthly 2026-11", "keep-yearly 2026"],
            ReasonsFor(points, rules, Utc, "c"));
        Assert.Equal(["keep-last #2"], ReasonsFor(points, rules, Utc, "b"));
        Assert.Equal(["keep-daily 2026-11-19"], ReasonsFor(points, rules, Utc, "a"));
    }

    [Fact]
    public void Forgotten_points_have_no_reasons_and_decisions_keep_input_order()
    {
        var points = Points("old@2026-11-18T08:00Z", "new@2026-11-20T06:00Z", "mid@2026-11-19T07:00Z");

        var decisions = RetentionEvaluator.Evaluate(points, new RetentionRules(keepLast: 1), Utc);

        Assert.Equal(["old", "new", "mid"], decisions.Select(d => d.Point.Id));
        Assert.Equal([false, true, false], decisions.Select(d => d.Keep));
        Assert.Empty(decisions[0].Reasons);
        Assert.Equal("forget old", decisions[0].ToString());
        Assert.Equal("keep new (newest, keep-last #1)", decisions[1].ToString());
    }

    [Fact]
    public void Days_are_counted_in_the_given_time_zone()
    {
        // b, 23:30Z on the 20th, is already the 21st in Berlin (UTC+1): it shares c's day there, and a keeps the 20th.
        var points = Points("a@2026-11-20T12:00Z", "b@2026-11-20T23:30Z", "c@2026-11-21T10:00Z");
        var rules = new RetentionRules(keepDaily: 3);

        Assert.Equal(["a", "c"], Kept(points, rules, Berlin));
        Assert.Equal(["keep-daily 2026-11-20"], ReasonsFor(points, rules, Berlin, "a"));
        Assert.Equal(["b", "c"], Kept(points, rules, Utc));
        Assert.Equal(["keep-daily 2026-11-20"], ReasonsFor(points, rules, Utc, "b"));

        // New York (UTC-5): 04:00Z on the 21st is 23:00 on the 20th, the same day as b.
        var late = Points("b@2026-11-20T23:30Z", "c@2026-11-21T04:00Z");
        Assert.Equal(["c"], Kept(late, new RetentionRules(keepDaily: 2), NewYork));
        Assert.Equal(["newest", "keep-daily 2026-11-20"], ReasonsFor(late, new RetentionRules(keepDaily: 2), NewYork, "c"));
        Assert.Equal(["b", "c"], Kept(late, new RetentionRules(keepDaily: 2), Utc));
    }

    [Fact]
    public void The_repeated_hour_when_daylight_saving_ends_is_one_hourly_period()
    {
        // Europe/Berlin, 2026-10-25: 03:00 CEST (01:00Z) becomes 02:00 CET, so 02:xx local happens twice.
        var points = Points(
            "p1@2026-10-25T00:10Z",  // 02:10 CEST
            "p2@2026-10-25T00:50Z",  // 02:50 CEST
            "p3@2026-10-25T01:10Z",  // 02:10 CET
            "p4@2026-10-25T01:50Z",  // 02:50 CET
            "p5@2026-10-25T02:10Z"); // 03:10 CET
        var rules = new RetentionRules(keepHourly: 10);

        Assert.Equal(["p4", "p5"], Kept(points, rules, Berlin));
        Assert.Equal(["keep-hourly 2026-10-25 02:00"], ReasonsFor(points, rules, Berlin, "p4"));
        Assert.Equal(["p2", "p4", "p5"], Kept(points, rules, Utc));
    }

    [Fact]
    public void The_skipped_hour_when_daylight_saving_starts_is_no_period()
    {
        // Europe/Berlin, 2026-03-29: 02:00 CET (01:00Z) becomes 03:00 CEST; there is no 02:xx local.
        var points = Points(
            "a@2026-03-29T00:30Z",  // 01:30 CET
            "b@2026-03-29T01:30Z",  // 03:30 CEST
            "c@2026-03-29T01:45Z"); // 03:45 CEST
        var rules = new RetentionRules(keepHourly: 2);

        Assert.Equal(["a", "c"], Kept(points, rules, Berlin));
        Assert.Equal(["keep-hourly 2026-03-29 01:00"], ReasonsFor(points, rules, Berlin, "a"));
        Assert.Equal(["newest", "keep-hourly 2026-03-29 03:00"], ReasonsFor(points, rules, Berlin, "c"));
    }

    [Fact]
    public void Each_vm_is_judged_on_its_own_points()
    {
        var points = new[]
        {
            new PointInfo("web-1", new DateTimeOffset(2026, 11, 20, 1, 0, 0, TimeSpan.Zero), "web"),
            new PointInfo("web-2", new DateTimeOffset(2026, 11, 20, 2, 0, 0, TimeSpan.Zero), "web"),
            new PointInfo("db-1", new DateTimeOffset(2026, 11, 19, 1, 0, 0, TimeSpan.Zero), "db"),
            new PointInfo("db-2", new DateTimeOffset(2026, 11, 19, 2, 0, 0, TimeSpan.Zero), "db"),
        };

        Assert.Equal(["db-2", "web-2"], Kept(points, new RetentionRules(keepLast: 1), Utc));
    }

    [Fact]
    public void Without_rules_every_point_is_kept()
    {
        var decisions = RetentionEvaluator.Evaluate(Points("a@2020-01-01T00:00Z", "b@2026-01-01T00:00Z"), RetentionRules.KeepEverything, Utc);

        Assert.All(decisions, d => Assert.Equal(["no retention rules"], d.Reasons));
    }

    [Fact]
    public void No_points_no_decisions()
    {
        Assert.Empty(RetentionEvaluator.Evaluate([], new RetentionRules(keepLast: 1), Utc));
    }

    [Fact]
    public void Duplicate_ids_are_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => RetentionEvaluator.Evaluate(Points("a@2026-11-20T01:00Z", "a@2026-11-20T02:00Z"), new RetentionRules(keepLast: 1), Utc));

        Assert.StartsWith("restore point id 'a' appears twice", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Negative_counts_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new RetentionRules(keepWeekly: -1));
    }
}
