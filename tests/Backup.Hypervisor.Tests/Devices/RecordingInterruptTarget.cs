using Backup.Hypervisor.Cpu;

namespace Backup.Hypervisor.Tests.Devices;

/// <summary>Test double for a hart: records the hardware-driven mip bits the controllers set.</summary>
public sealed class RecordingInterruptTarget(int hartId) : IInterruptTarget
{
    public int HartId { get; } = hartId;

    public ulong Mip { get; private set; }

    public int Calls { get; private set; }

    public bool Has(ulong bits) => (Mip & bits) == bits;

    public void SetInterruptPending(ulong bits, bool level)
    {
        Calls++;
        Mip = level ? Mip | bits : Mip & ~bits;
    }
}
