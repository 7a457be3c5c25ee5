using Backup.Engine.Backups;
using Backup.Service.Repositories;
using Backup.Service.Scheduling;

namespace Backup.Service.Jobs;

/// <summary>
/// The order for an operator's "back up now": the first policy (by name) that covers the VM gives the repository,
/// passphrase, consistency and retention; a VM no policy covers goes to the data folder's default local
/// repository, crash-consistent. Options given on the command line win.
/// </summary>
public static class BackupOrders
{
    public static BackupOrder ForVm(IReadOnlyList<ProtectionPlan> plans, string vm, string trigger,
        string? repository = null, string? passphraseSource = null, BackupConsistency? consistency = null)
    {
        ArgumentNullException.ThrowIfNull(plans);
        var plan = plans.Where(p => p.Covers(vm)).OrderBy(p => p.Name, StringComparer.Ordinal).FirstOrDefault();
        bool samePlace = repository is null;
        return new BackupOrder
        {
            Vm = vm,
            Repository = repository ?? plan?.Repository ?? "repository",
            PassphraseSource = passphraseSource ?? (samePlace ? plan?.PassphraseSource : null) ?? RepositoryAccess.DefaultPassphrase,
            Consistency = consistency ?? plan?.Consistency ?? BackupConsistency.Crash,
            AgentTimeout = plan?.AgentTimeout ?? TimeSpan.FromSeconds(10),
            Policy = samePlace ? plan?.Name : null,
            Trigger = trigger,
            WaitIfBusy = true,
            SelectForget = samePlace ? plan?.SelectForget : null,
        };
    }
}
