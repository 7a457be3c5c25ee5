using Backup.Service.Catalog;
using Backup.Service.Jobs;
using Backup.Service.Vms;
using Microsoft.Extensions.Logging;
using Quartz;

namespace Backup.Service.Scheduling;

/// <summary>
/// Runs the protection plans on a Quartz.NET scheduler: one job per plan with its cron trigger, backing up every
/// defined VM the plan covers (one backup per VM at a time: an overlapping run is skipped and recorded). At start,
/// a run missed while the appliance was down (a fire time after the plan's last recorded run) is run once.
/// </summary>
public sealed class PolicyScheduler : IAsyncDisposable
{
    private const string ContextKey = "backup.scheduler";
    private readonly IReadOnlyList<ProtectionPlan> _plans;
    private readonly VmStore _store;
    private readonly ApplianceCatalog _catalog;
    private readonly BackupCoordinator _coordinator;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _missedRuns = [];
    private StandaloneSchedulerFactory? _factory;
    private IScheduler? _scheduler;

    public PolicyScheduler(IReadOnlyList<ProtectionPlan> plans, VmStore store, ApplianceCatalog catalog, BackupCoordinator coordinator, ILogger logger)
    {
        _plans = plans;
        _store = store;
        _catalog = catalog;
        _coordinator = coordinator;
        _logger = logger;
    }

    /// <summary>Schedules every plan and starts the scheduler, then starts the missed runs.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _factory = QuartzSchedulerBuilder.Create(_ => { }).Build();
        _scheduler = await _factory.GetScheduler(cancellationToken).ConfigureAwait(false);
        _scheduler.Context[ContextKey] = this;
        foreach (var plan in _plans)
        {
            var job = JobBuilder.Create<PlanJob>().WithIdentity(plan.Name).UsingJobData("plan", plan.Name).DisallowConcurrentExecution(true).Build();
            var trigger = TriggerBuilder.Create(TimeProvider.System)
                .WithIdentity(plan.Name)
                .ForJob(job)
                .WithSchedule(CronScheduleBuilder.Create(plan.Cron).InTimeZone(plan.TimeZone).WithMisfireInstruction(CronTriggerMisfireInstruction.DoNothing))
                .WithOverlapPolicy(OverlapPolicy.Skip)
                .Build();
            var first = await _scheduler.ScheduleJob(job, trigger, default, cancellationToken).ConfigureAwait(false);
            _logger.LogInformation("policy {Policy} ({Source}) scheduled '{Cron}'; next run {Next:u}", plan.Name, plan.Source, plan.Cron, first);
        }

        await _scheduler.Start(cancellationToken).ConfigureAwait(false);

        var now = DateTimeOffset.UtcNow;
        foreach (var plan in _plans)
        {
            foreach (string vm in CoveredVms(plan))
            {
                var last = _catalog.LastRun(plan.Name, vm);
                if (last is null)
                {
                    continue; // never run: the schedule's first fire starts it
                }

                if (plan.MissedFireTime(last.Value, now) is { } missed)
                {
                    _logger.LogInformation("policy {Policy}: the run due {Missed:u} for {Vm} was missed while the appliance was down; running it now", plan.Name, missed, vm);
                    _missedRuns.Add(Task.Run(() => RunAsync(plan, vm, "missed run", _stopping.Token), CancellationToken.None));
                }
            }
        }
    }

    /// <summary>Stops scheduling, cancels running jobs and waits for them to end.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_scheduler is not null)
        {
            await _scheduler.Shutdown(true, CancellationToken.None).ConfigureAwait(false);
        }

        if (_factory is not null)
        {
            await _factory.DisposeAsync().ConfigureAwait(false);
        }

        try
        {
            await Task.WhenAll(_missedRuns).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Cancelled by the shutdown: recorded as interrupted.
        }

        _stopping.Dispose();
    }

    private IEnumerable<string> CoveredVms(ProtectionPlan plan) => _store.List().Definitions.Select(d => d.Name).Where(plan.Covers);

    private async Task FireAsync(string planName, CancellationToken cancellationToken)
    {
        var plan = _plans.First(p => p.Name == planName);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
        var vms = CoveredVms(plan).ToList();
        if (vms.Count == 0)
        {
            _logger.LogWarning("policy {Policy}: no defined VM matches it; nothing to back up", plan.Name);
            return;
        }

        // VMs of one policy are backed up one after another: a policy's run is one job per VM.
        foreach (string vm in vms)
        {
            await RunAsync(plan, vm, "schedule", linked.Token).ConfigureAwait(false);
        }
    }

    private async Task RunAsync(ProtectionPlan plan, string vm, string trigger, CancellationToken cancellationToken)
    {
        try
        {
            await _coordinator.RunAsync(new BackupOrder
            {
                Vm = vm,
                Repository = plan.Repository,
                PassphraseSource = plan.PassphraseSource,
                Consistency = plan.Consistency,
                AgentTimeout = plan.AgentTimeout,
                Policy = plan.Name,
                Trigger = trigger,
                SelectForget = plan.SelectForget,
            }, null, cancellationToken).ConfigureAwait(false);
        }
        catch (ArgumentException e)
        {
            _logger.LogError("policy {Policy}: backup of {Vm} not started: {Reason}", plan.Name, vm, e.Message);
        }
    }

    /// <summary>The Quartz job: hands the fire to the scheduler that registered it.</summary>
    private sealed class PlanJob : IJob
    {
        public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
        {
            var owner = (PolicyScheduler)context.Scheduler.Context[ContextKey]!;
            string plan = context.MergedJobDataMap.GetString("plan") ?? string.Empty;
            try
            {
                await owner.FireAsync(plan, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // The appliance is stopping; the job row says interrupted.
            }
        }
    }
}
