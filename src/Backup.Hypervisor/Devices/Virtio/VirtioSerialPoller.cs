namespace Backup.Hypervisor.Devices.Virtio;

/// <summary>
/// Delivers host-side work of a <see cref="VirtioSerialDevice"/> between quanta: queued control messages and input
/// for ports the guest has open are pushed into the driver's posted buffers (as a notify would), which interrupts.
/// </summary>
public sealed class VirtioSerialPoller(VirtioMmioTransport transport, VirtioSerialDevice device) : IPolledDevice
{
    /// <inheritdoc />
    public void Poll(ulong timeTicks)
    {
        if (device.HasPendingWork)
        {
            device.ServicePending(transport);
        }
    }
}
