namespace Backup.Hypervisor.Devices;

/// <summary>A level-triggered wire from a device to an interrupt controller (the PLIC).</summary>
public interface IInterruptLine
{
    /// <summary>Drives the line high (true) or low (false).</summary>
    void Set(bool level);
}
