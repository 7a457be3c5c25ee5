using System.Collections.Concurrent;
using System.Globalization;
using Backup.Engine.Backups;
using Backup.Repository;
using Backup.Repository.Locks;
using Backup.Service.Catalog;
using Backup.Service.Data;
using Backup.Service.Hosting;
using Backup.Service.Repositories;
using Backup.Service.Vms;
using Microsoft.Extensions.Logging;

namespace Backup.Service.Jobs;

/// <summary>
/// Runs backup jobs: one per VM at a time. A running VM (in the supervisor) is checkpointed and its changed chunks
/// written while it keeps running; a stopped VM is backed up cold from its disk images. Each job is a catalog row
/// from start to end; the restore point is recorded once committed; retention then forgets what the policy no
/// longer keeps. A job cut off by a crash leaves its row "running" (marked interrupted at the next start) and no
/// restore point, because the repository commits a point by writing its manifest last.
/// </summary>
public sealed class BackupCoordinator
{
    private readonly ApplianceData _data;
    private readonly VmStore _store;
    private readonly ApplianceCatalog _catalog;
    private readonly VmSupervisor? _supervisor;
    private readonly RepositoryAccess _repositories;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _perVm = new(StringComparer.Ordinal);

    public BackupCoordinator(ApplianceData data, VmStore store, ApplianceCatalog catalog, VmSupervisor? supervisor, RepositoryAccess repositories, ILogger logger)
    {
        _data = data;
        _store = store;
        _catalog = catalog;
        _supervisor = supervisor;
        _repositories = repositories;
        _logger = logger;
    }

    /// <summary>Runs one backup. Failures are recorded in the job and returned, not thrown (except cancellation).</summary>
    public async Task<BackupOutcome> RunAsync(BackupOrder order, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(order);
        var definition = _store.Get(order.Vm); // unknown VM: the caller's error, not a job
        var gate = _perVm.GetOrAdd(order.Vm, _ => new SemaphoreSlim(1, 1));
        if (!order.WaitIfBusy && !await gate.WaitAsync(0, cancellationToken).ConfigureAwait(false))
        {
            long skipped = _catalog.StartJob("backup", order.Vm, order.Policy, order.Trigger);
            string why = $"a backup of VM '{order.Vm}' is already running";
            _catalog.FinishJob(skipped, JobStatus.Skipped, why);
            _logger.LogWarning("backup of {Vm} skipped: {Reason}", order.Vm, why);
            return new BackupOutcome { JobId = skipped, Status = JobStatus.Skipped, Message = why };
        }

        if (order.WaitIfBusy)
        {
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        long job = _catalog.StartJob("backup", order.Vm, order.Policy, order.Trigger);
        _logger.LogInformation("backup job {Job} of {Vm} started ({Trigger}{Policy}) into {Repository}", job, order.Vm, order.Trigger,
            order.Policy is null ? string.Empty : ", policy " + order.Policy, order.Repository);
        try
        {
            string location = _repositories.Normalize(order.Repository);
            using var repository = await _repositories.OpenAsync(location, order.PassphraseSource, cancellationToken).ConfigureAwait(false);
            var running = _supervisor?.Find(order.Vm);
            BackupResult result = running is not null
                ? await VmBackupRunner.BackupAsync(running, repository, new BackupRequest
                {
                    Consistency = order.Consistency,
                    AgentTimeout = order.AgentTimeout,
                    WorkDirectory = _data.WorkDirectory,
                }, progress, cancellationToken).ConfigureAwait(false)
                : await VmBackupRunner.BackupStoppedAsync(definition, _data.VmStateDirectory(order.Vm), repository, progress, cancellationToken).ConfigureAwait(false);

            _catalog.RecordPoint(new PointRecord
            {
                Id = result.PointId,
                Vm = result.Vm,
                Time = result.Time,
                Repository = location,
                PassphraseSource = order.PassphraseSource,
                Parent = result.ParentId,
                Consistency = result.Consistency,
                ConsistencyNote = result.ConsistencyNote,
                HasMemoryState = result.HasMemoryState,
                DiskBytes = result.Disks.Sum(d => d.Length),
                ChangedBytes = result.Disks.Sum(d => d.ChangedBytes),
                StoredBytes = result.Statistics.UploadedBytes,
                StunMilliseconds = result.Stun.TotalMilliseconds,
                Policy = order.Policy,
            });

            var forgotten = await ApplyRetentionAsync(repository, order, cancellationToken).ConfigureAwait(false);
            string message = Describe(result, forgotten.Count);
            _catalog.FinishJob(job, JobStatus.Succeeded, message, result.PointId);
            _logger.LogInformation("backup job {Job} of {Vm} committed restore point {Point}: {Summary}", job, order.Vm, result.PointId, message);
            return new BackupOutcome { JobId = job, Status = JobStatus.Succeeded, Message = message, Result = result, Forgotten = forgotten };
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _catalog.FinishJob(job, JobStatus.Failed, e.Message);
            _logger.LogError("backup job {Job} of {Vm} failed: {Reason}", job, order.Vm, e.Message);
            return new BackupOutcome { JobId = job, Status = JobStatus.Failed, Message = e.Message };
        }
        catch (OperationCanceledException)
        {
            _catalog.FinishJob(job, JobStatus.Interrupted, "cancelled: the appliance is shutting down; no restore point was committed");
            throw;
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task<IReadOnlyList<string>> ApplyRetentionAsync(BackupRepository repository, BackupOrder order, CancellationToken cancellationToken)
    {
        if (order.SelectForget is null)
        {
            return [];
        }

        var points = (await repository.ListPointsAsync(cancellationToken).ConfigureAwait(false))
            .Where(p => p.Vm == order.Vm && p.Problem is null)
            .ToList();
        var forget = order.SelectForget(points).ToList();
        if (forget.Count == 0)
        {
            return [];
        }

        try
        {
            await repository.ForgetAsync(forget, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (RepositoryLockedException e)
        {
            // The point is committed; retention simply waits for the next run.
            _logger.LogWarning("retention for {Vm} postponed: {Reason}", order.Vm, e.Message);
            return [];
        }

        _catalog.RemovePoints(forget);
        _logger.LogInformation("retention forgot {Count} restore points of {Vm}: {Points}", forget.Count, order.Vm, string.Join(", ", forget));
        return forget;
    }

    private static string Describe(BackupResult result, int forgotten)
    {
        long length = result.Disks.Sum(d => d.Length);
        long changed = result.Disks.Sum(d => d.ChangedBytes);
        string full = string.Join("; ", result.Disks.Where(d => d.FullReadReason is not null).Select(d => $"{d.Name} read in full: {d.FullReadReason}"));
        return string.Create(CultureInfo.InvariantCulture,
            $"{result.Consistency}-consistent, stun {result.Stun.TotalMilliseconds:F2} ms, {changed >> 20} of {length >> 20} MiB changed, {result.Statistics.UploadedBytes >> 10} KiB uploaded in {result.Duration.TotalSeconds:F1} s")
            + (full.Length > 0 ? $"; {full}" : string.Empty)
            + (result.ConsistencyNote is null ? string.Empty : $"; {result.ConsistencyNote}")
            + (forgotten > 0 ? $"; retention forgot {forgotten} points" : string.Empty);
    }
}
