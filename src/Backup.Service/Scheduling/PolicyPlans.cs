using Backup.Engine.Backups;
using Backup.Policies.Loading;
using Backup.Policies.Model;
using Backup.Policies.Retention;
using Backup.Service.Data;
using Backup.Service.Repositories;

namespace Backup.Service.Scheduling;

/// <summary>
/// Loads the protection policies (policies/*.yaml, see docs/policies.md) and turns each enabled one into a
/// <see cref="ProtectionPlan"/>. A malformed file refuses the whole set with <see cref="PolicyException"/> naming
/// file, line and reason, so the service never starts with a policy silently ignored.
/// </summary>
public static class PolicyPlans
{
    /// <summary>The plans of every enabled policy in <paramref name="directory"/>; none when the folder does not exist and was not asked for.</summary>
    public static IReadOnlyList<ProtectionPlan> Load(string directory, ApplianceData data, bool required)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (!Directory.Exists(directory) && !required)
        {
            return [];
        }

        var set = PolicySet.LoadDirectory(directory, data.Root);
        return set.Policies.Where(p => p.Enabled).Select(ToPlan).ToList();
    }

    public static ProtectionPlan ToPlan(Policy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        var schedule = policy.Schedule;
        var rules = policy.Retention;
        return new ProtectionPlan
        {
            Name = policy.Name,
            Source = policy.Location.ToString(),
            Covers = policy.Covers,
            Cron = schedule.Expression,
            TimeZone = schedule.TimeZone,
            Repository = policy.Repository.Url,
            PassphraseSource = policy.Passphrase switch
            {
                PassphraseFromEnvironment env => $"env:{env.Variable}",
                PassphraseFromFile file => $"file:{file.Path}",
                _ => RepositoryAccess.DefaultPassphrase,
            },
            Consistency = policy.Consistency == ConsistencyMode.Application ? BackupConsistency.Application : BackupConsistency.Crash,
            AgentTimeout = policy.AgentTimeout,
            SelectForget = rules.IsKeepEverything ? null : points =>
                RetentionEvaluator.Evaluate(
                        points.Where(p => p.Time is not null && p.Vm is not null).Select(p => new PointInfo(p.Id, p.Time!.Value, p.Vm!)),
                        rules,
                        schedule.TimeZone)
                    .Where(d => !d.Keep)
                    .Select(d => d.Point.Id)
                    .ToList(),
            MissedFireTime = policy.MissedFireTime,
        };
    }
}
