using Quartz;

namespace Backup.Policies.Scheduling;

/// <summary>
/// A Quartz cron schedule (6 or 7 fields: seconds minutes hours day-of-month month day-of-week [year], or one of
/// the <c>@daily</c>-style macros) resolved in a time zone. Immutable and safe to share between threads.
/// </summary>
public sealed class CronSchedule
{
    private readonly CronExpression _cron;

    private CronSchedule(CronExpression cron, TimeZoneInfo timeZone, bool timeZoneStated)
    {
        _cron = cron;
        TimeZone = timeZone;
        TimeZoneStated = timeZoneStated;
    }

    /// <summary>The expression in Quartz's canonical spelling (macros expanded, names upper-cased).</summary>
    public string Expression => _cron.CronExpressionString;

    /// <summary>The time zone the expression's wall-clock times are read in.</summary>
    public TimeZoneInfo TimeZone { get; }

    /// <summary>False when no time zone was given and <see cref="TimeZone"/> is the appliance's local zone.</summary>
    public bool TimeZoneStated { get; }

    /// <summary>
    /// Parses <paramref name="expression"/>; a null <paramref name="timeZone"/> means the appliance's local time zone.
    /// Throws <see cref="FormatException"/> saying what is wrong (Quartz's own diagnosis).
    /// </summary>
    public static CronSchedule Parse(string expression, TimeZoneInfo? timeZone = null)
    {
        ArgumentNullException.ThrowIfNull(expression);
        var text = expression.Trim();
        if (text.Length == 0)
        {
            throw new FormatException("the cron expression is empty; expected 6 or 7 fields, e.g. \"0 */5 * * * ?\" (every 5 minutes)");
        }

        var fields = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length == 5 && !text.StartsWith('@'))
        {
            var suggestion = fields[2] == "*" && fields[4] == "*" ? $"0 {string.Join(' ', fields[..4])} ?" : $"0 {text}";
            throw new FormatException($"'{text}' has 5 fields (Unix cron); Quartz cron has 6 or 7, starting with seconds, and one of day-of-month and day-of-week must be '?': did you mean '{suggestion}'?");
        }

        CronExpression cron;
        try
        {
            cron = new CronExpression(text);
        }
        catch (FormatException e)
        {
            throw new FormatException($"'{text}' is not a valid Quartz cron expression: {e.Message}", e);
        }

        var zone = timeZone ?? TimeZoneInfo.Local;
        return new CronSchedule(cron.WithTimeZone(zone), zone, timeZone is not null);
    }

    /// <summary>The first fire time strictly after <paramref name="after"/>, in UTC; null when the schedule never fires again.</summary>
    public DateTimeOffset? NextFireTime(DateTimeOffset after) => _cron.GetNextValidTimeAfter(after)?.ToUniversalTime();

    /// <summary>
    /// The most recent fire time in (<paramref name="lastRun"/>, <paramref name="now"/>], in UTC; null when the schedule
    /// did not fire in that interval. However many runs were missed while the service was down, it runs the policy once,
    /// for this fire time. Costs about log2 of the interval in seconds evaluations of the expression.
    /// </summary>
    public DateTimeOffset? MissedFireTime(DateTimeOffset lastRun, DateTimeOffset now)
    {
        if (NextFireTime(lastRun) is not { } first || first > now)
        {
            return null;
        }

        // NextFireTime is non-decreasing in its argument and fire times are whole seconds: find, to the second, the
        // latest instant whose next fire time is still at or before now. Invariant: next(low) <= now < next(high).
        var low = lastRun;
        var high = now;
        while (high - low > TimeSpan.FromSeconds(1))
        {
            var middle = low + TimeSpan.FromSeconds(Math.Max(1, Math.Floor((high - low).TotalSeconds / 2)));
            if (NextFireTime(middle) is { } next && next <= now)
            {
                low = middle;
            }
            else
            {
                high = middle;
            }
        }

        return NextFireTime(low);
    }

    /// <summary>Whether <paramref name="instant"/> is one of the schedule's fire times (to the second).</summary>
    public bool IsFireTime(DateTimeOffset instant) => _cron.IsSatisfiedBy(instant);

    /// <summary>A Quartz <see cref="CronExpression"/> equal to this schedule, for building a trigger.</summary>
    public CronExpression ToCronExpression() => _cron;

    /// <summary>The expression and its time zone, e.g. <c>0 */5 * * * ? (Europe/Berlin)</c>.</summary>
    public override string ToString() => $"{Expression} ({TimeZone.Id})";
}
