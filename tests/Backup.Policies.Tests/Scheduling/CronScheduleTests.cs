using System.Globalization;
using Backup.Policies.Scheduling;
using Backup.Policies.Tests.Support;

namespace Backup.Policies.Tests.Scheduling;

public sealed class CronScheduleTests
{
    private static readonly TimeZoneInfo Berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");

    private static DateTimeOffset At(string utc) => DateTimeOffset.Parse(utc, CultureInfo.InvariantCulture);

    [Theory]
    [InlineData("2026-11-20T12:03:10Z", "2026-11-20T12:05:00Z")]
    [InlineData("2026-11-20T12:05:00Z", "2026-11-20T12:10:00Z")]
    [InlineData("2026-11-20T12:04:59.999Z", "2026-11-20T12:05:00Z")]
    [InlineData("2026-11-20T23:58:00Z", "2026-11-21T00:00:00Z")]
    public void Next_fire_time_is_strictly_after(string after, string next)
    {
        var schedule = CronSchedule.Parse("0 */5 * * * ?", TimeZoneInfo.Utc);

        Assert.Equal(At(next), schedule.NextFireTime(At(after)));
    }

    [Fact]
    public void Wall_clock_times_are_read_in_the_time_zone_across_daylight_saving()
    {
        var schedule = CronSchedule.Parse("0 30 2 * * ?", Berlin);

        Assert.Equal(At("2026-11-20T01:30:00Z"), schedule.NextFireTime(At("2026-11-20T00:00:00Z")));  // CET, UTC+1
        Assert.Equal(At("2026-07-01T00:30:00Z"), schedule.NextFireTime(At("2026-06-30T12:00:00Z")));  // CEST, UTC+2

        // 2026-03-29 has no 02:30 in Berlin: Quartz fires at 03:00 CEST instead, once.
        Assert.Equal(At("2026-03-29T01:00:00Z"), schedule.NextFireTime(At("2026-03-28T12:00:00Z")));
        Assert.Equal(At("2026-03-30T00:30:00Z"), schedule.NextFireTime(At("2026-03-29T01:00:00Z")));

        // 2026-10-25 has 02:30 twice in Berlin: Quartz fires at the first (CEST) only.
        Assert.Equal(At("2026-10-25T00:30:00Z"), schedule.NextFireTime(At("2026-10-24T12:00:00Z")));
        Assert.Equal(At("2026-10-26T01:30:00Z"), schedule.NextFireTime(At("2026-10-25T00:30:00Z")));
    }

    [Fact]
    public void Expression_is_canonical_and_macros_expand()
    {
        Assert.Equal("0 0 0 * * ?", CronSchedule.Parse("@daily", TimeZoneInfo.Utc).Expression);
        Assert.Equal("0 0 12 ? * MON-FRI 2027", CronSchedule.Parse("  0 0 12 ? * mon-fri 2027 ", TimeZoneInfo.Utc).Expression);
        Assert.Equal("0 0 0 * * ? (UTC)", CronSchedule.Parse("@daily", TimeZoneInfo.Utc).ToString());
    }

    [Theory]
    [InlineData("", "the cron expression is empty")]
    [InlineData("0 0 25 * * ?", "is not a valid Quartz cron expression: ")]
    [InlineData("0 0 * * *", "has 5 fields (Unix cron)")]
    [InlineData("every day", "is not a valid Quartz cron expression: ")]
    public void Bad_expressions_are_refused(string expression, string expected)
    {
        var e = Assert.Throws<FormatException>(() => CronSchedule.Parse(expression, TimeZoneInfo.Utc));

        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0 */5 * * * ?", "2026-11-20T12:00:00Z", "2026-11-20T12:17:30Z", "2026-11-20T12:15:00Z")]
    [InlineData("0 */5 * * * ?", "2026-11-20T12:00:00Z", "2026-11-20T12:05:00Z", "2026-11-20T12:05:00Z")]
    [InlineData("0 */5 * * * ?", "2026-11-20T12:00:00Z", "2026-11-20T12:04:59Z", null)]
    [InlineData("0 */5 * * * ?", "2026-11-20T12:05:00Z", "2026-11-20T12:05:00Z", null)]
    [InlineData("0 */5 * * * ?", "2026-11-20T12:06:00Z", "2026-11-20T12:01:00Z", null)]
    [InlineData("0 */5 * * * ?", "2026-11-20T12:04:00Z", "2026-11-20T12:05:00.500Z", "2026-11-20T12:05:00Z")]
    [InlineData("* * * * * ?", "2025-11-20T12:00:00Z", "2026-11-20T12:00:00.750Z", "2026-11-20T12:00:00Z")]
    [InlineData("0 0 9-17 ? * MON-FRI", "2026-11-20T10:00:00Z", "2026-11-23T08:00:00Z", "2026-11-20T17:00:00Z")]
    [InlineData("0 0 0 1 1 ? *", "2020-06-01T00:00:00Z", "2026-11-20T00:00:00Z", "2026-01-01T00:00:00Z")]
    [InlineData("0 0 0 29 2 ?", "2021-01-01T00:00:00Z", "2026-11-20T00:00:00Z", "2024-02-29T00:00:00Z")]
    public void Missed_fire_time_is_the_most_recent_in_the_half_open_interval(string cron, string lastRun, string now, string? missed)
    {
        var schedule = CronSchedule.Parse(cron, TimeZoneInfo.Utc);

        Assert.Equal(missed is null ? null : At(missed), schedule.MissedFireTime(At(lastRun), At(now)));
    }

    [Fact]
    public void Missed_fire_time_agrees_with_walking_every_fire_time()
    {
        string[] crons = ["0 */7 * * * ?", "13 0/17 3-19 ? * TUE,THU", "0 15 2 L * ?", "0 0 2 * * ?", "0 30 2 ? * SUN", "*/11 * 1 * * ?"];
        var intervals = 0;
        foreach (var cron in crons)
        {
            var schedule = CronSchedule.Parse(cron, Berlin);
            var lastRun = At("2026-03-20T10:17:03.250Z");
            for (var step = 0; step < 40; step++)
            {
                var now = lastRun + TimeSpan.FromSeconds((step * step * 7919) + (step * 37));
                DateTimeOffset? walked = null;
                for (var t = schedule.NextFireTime(lastRun); t is { } fire && fire <= now; t = schedule.NextFireTime(fire))
                {
                    walked = fire;
                }

                Assert.Equal(walked, schedule.MissedFireTime(lastRun, now));
                intervals++;
            }
        }

        Assert.Equal(240, intervals);
    }

    [Fact]
    public void Policy_exposes_next_and_missed_fire_times_of_its_schedule()
    {
        var policy = Assert.Single(PolicyText.Load("name: p\nvms: [a]\nschedule: 0 0 2 * * ?\ntime-zone: Europe/Berlin\nrepository: r\n").Policies);

        Assert.Equal(At("2026-11-21T01:00:00Z"), policy.NextFireTime(At("2026-11-20T01:00:00Z")));
        Assert.Equal(At("2026-11-20T01:00:00Z"), policy.MissedFireTime(At("2026-11-18T12:00:00Z"), At("2026-11-20T09:00:00Z")));
        Assert.Null(policy.MissedFireTime(At("2026-11-20T01:00:00Z"), At("2026-11-20T09:00:00Z")));
    }
}
