namespace Backup.Hypervisor.Devices.Virtio;

/// <summary>
/// Services a <see cref="VirtioNetDevice"/> between quanta on the VM thread: when the link signalled (frames arrived
/// on its empty queue, or its state changed) the transport services the receive queue as a notify would; when the
/// link went up or down the driver gets a configuration-change interrupt (VIRTIO_NET_F_STATUS).
/// </summary>
public sealed class VirtioNetPoller(VirtioMmioTransport transport, VirtioNetDevice nic) : IPolledDevice
{
    /// <inheritdoc />
    public void Poll(ulong timeTicks)
    {
        if (!nic.TakeReceiveSignal())
        {
            return;
        }

        if (nic.TakeLinkChange())
        {
            transport.SignalConfigChange();
        }

        transport.ServiceQueue(VirtioNetDevice.ReceiveQueue);
    }
}
