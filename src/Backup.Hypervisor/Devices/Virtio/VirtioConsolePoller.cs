namespace Backup.Hypervisor.Devices.Virtio;

/// <summary>
/// Delivers host input to a <see cref="VirtioConsoleDevice"/> between quanta: when input waits, the transport
/// services the receive queue (as a notify would), which fills the driver's posted buffers and interrupts.
/// </summary>
public sealed class VirtioConsolePoller(VirtioMmioTransport transport, VirtioConsoleDevice console) : IPolledDevice
{
    /// <inheritdoc />
    public void Poll(ulong timeTicks)
    {
        if (console.HasPendingInput)
        {
            transport.ServiceQueue(0);
        }
    }
}
