namespace Backup.Policies.Retention;

/// <summary>
/// How many restore points a policy keeps, with restic/Proxmox Backup Server semantics: <see cref="KeepLast"/> keeps
/// the newest N points; each other rule keeps the newest point of each of the last N periods (hours, days, ISO weeks,
/// months, years, in the caller's time zone) that hold a point. A point kept by any rule is kept, and the newest point
/// is always kept. All counts zero (<see cref="KeepEverything"/>) means no rule is set: every point is kept.
/// </summary>
public sealed record RetentionRules
{
    /// <summary>Creates rules; every count must be zero or more.</summary>
    public RetentionRules(int keepLast = 0, int keepHourly = 0, int keepDaily = 0, int keepWeekly = 0, int keepMonthly = 0, int keepYearly = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(keepLast);
        ArgumentOutOfRangeException.ThrowIfNegative(keepHourly);
        ArgumentOutOfRangeException.ThrowIfNegative(keepDaily);
        ArgumentOutOfRangeException.ThrowIfNegative(keepWeekly);
        ArgumentOutOfRangeException.ThrowIfNegative(keepMonthly);
        ArgumentOutOfRangeException.ThrowIfNegative(keepYearly);
        KeepLast = keepLast;
        KeepHourly = keepHourly;
        KeepDaily = keepDaily;
        KeepWeekly = keepWeekly;
        KeepMonthly = keepMonthly;
        KeepYearly = keepYearly;
    }

    /// <summary>No rule: every point is kept.</summary>
    public static RetentionRules KeepEverything { get; } = new();

    /// <summary>The newest N points.</summary>
    public int KeepLast { get; }

    /// <summary>The newest point of each of the last N hours that hold a point.</summary>
    public int KeepHourly { get; }

    /// <summary>The newest point of each of the last N days that hold a point.</summary>
    public int KeepDaily { get; }

    /// <summary>The newest point of each of the last N ISO weeks (Monday to Sunday) that hold a point.</summary>
    public int KeepWeekly { get; }

    /// <summary>The newest point of each of the last N months that hold a point.</summary>
    public int KeepMonthly { get; }

    /// <summary>The newest point of each of the last N years that hold a point.</summary>
    public int KeepYearly { get; }

    /// <summary>True when no count is set, i.e. nothing is ever forgotten.</summary>
    public bool IsKeepEverything => KeepLast == 0 && KeepHourly == 0 && KeepDaily == 0 && KeepWeekly == 0 && KeepMonthly == 0 && KeepYearly == 0;

    /// <summary>The rules as written in a policy, e.g. <c>keep-last 12, keep-daily 7</c>.</summary>
    public override string ToString()
    {
        if (IsKeepEverything)
        {
            return "keep everything";
        }

        var parts = new List<string>();
        void Add(string name, int count)
        {
            if (count > 0)
            {
                parts.Add($"{name} {count}");
            }
        }

        Add("keep-last", KeepLast);
        Add("keep-hourly", KeepHourly);
        Add("keep-daily", KeepDaily);
        Add("keep-weekly", KeepWeekly);
        Add("keep-monthly", KeepMonthly);
        Add("keep-yearly", KeepYearly);
        return string.Join(", ", parts);
    }
}
