namespace Backup.Hypervisor.Cpu;

/// <summary>
/// What an interrupt controller sees of a hart: the hardware-driven bits of its mip register
/// (MSIP, MTIP, MEIP, SEIP from the PLIC's S context). Calls come from the VM thread only.
/// </summary>
public interface IInterruptTarget
{
    int HartId { get; }

    /// <summary>Sets (level true) or clears the given <see cref="InterruptBits"/> in the hardware-driven part of mip.</summary>
    void SetInterruptPending(ulong bits, bool level);
}
