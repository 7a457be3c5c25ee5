using Backup.Engine.Backups;
using Backup.Engine.Running;

namespace Backup.Engine.Recovery;

/// <summary>A VM running straight from a restore point, and how long it took to get there.</summary>
public sealed class RecoveredVm : IDisposable
{
    internal RecoveredVm(ManagedVm vm, string pointId, PointConfiguration configuration, bool resumed, TimeSpan prepared)
    {
        Vm = vm;
        PointId = pointId;
        Configuration = configuration;
        Resumed = resumed;
        Prepared = prepared;
    }

    public ManagedVm Vm { get; }

    public string PointId { get; }

    /// <summary>The point's configuration: the original VM's definition and how the cut was taken.</summary>
    public PointConfiguration Configuration { get; }

    /// <summary>True when the VM continued from the point's memory state; false for a cold boot.</summary>
    public bool Resumed { get; }

    /// <summary>Time from the request until the machine was built (repository opened, kernel and state fetched).</summary>
    public TimeSpan Prepared { get; }

    public void Dispose() => Vm.Dispose();
}
