using Backup.Policies.Scheduling;

namespace Backup.Policies.Model;

/// <summary>
/// When and how much of a policy's repository is read back and checked: on <see cref="Schedule"/>, the service
/// verifies the repository's structure and re-reads <see cref="SamplePercent"/> percent of the stored data.
/// </summary>
public sealed class VerificationSettings
{
    /// <summary>The sample used when a policy gives none: everything.</summary>
    public const double DefaultSamplePercent = 100;

    /// <summary>Creates verification settings; <paramref name="samplePercent"/> must be in (0, 100].</summary>
    public VerificationSettings(CronSchedule schedule, double samplePercent = DefaultSamplePercent)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        if (!(samplePercent > 0 && samplePercent <= 100))
        {
            throw new ArgumentOutOfRangeException(nameof(samplePercent), samplePercent, "the verification sample must be more than 0 and at most 100 percent");
        }

        Schedule = schedule;
        SamplePercent = samplePercent;
    }

    /// <summary>When verification runs.</summary>
    public CronSchedule Schedule { get; }

    /// <summary>The share of the stored data re-read on each run, in percent (0 exclusive to 100 inclusive).</summary>
    public double SamplePercent { get; }
}
