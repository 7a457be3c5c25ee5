namespace Backup.Hypervisor.Devices;

/// <summary>
/// A device that needs the VM thread's attention between instruction quanta (input arriving from another
/// thread, time-driven interrupts). <see cref="Poll"/> runs on the VM thread.
/// </summary>
public interface IPolledDevice
{
    void Poll(ulong timeTicks);
}
