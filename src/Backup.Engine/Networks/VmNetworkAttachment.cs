using Backup.Hypervisor.Machine;

namespace Backup.Engine.Networks;

/// <summary>A running VM's place on its networks: its NICs for the machine; disposing unplugs it and closes its forwards.</summary>
public sealed class VmNetworkAttachment : IDisposable
{
    private readonly NetworkFabric? _fabric;
    private readonly string _vmName;
    private int _disposed;

    internal VmNetworkAttachment(NetworkFabric? fabric, string vmName, IReadOnlyList<VmNic> nics)
    {
        _fabric = fabric;
        _vmName = vmName;
        Nics = nics;
    }

    /// <summary>A VM without network cards.</summary>
    public static VmNetworkAttachment None { get; } = new(null, string.Empty, []);

    /// <summary>The NICs, in the VM definition's order, each on a switch port bound to its MAC.</summary>
    public IReadOnlyList<VmNic> Nics { get; }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0 && _fabric is not null && Nics.Count > 0)
        {
            _fabric.Detach(_vmName);
        }
    }
}
