namespace Backup.Hypervisor.Devices.Virtio;

/// <summary>
/// A virtio device type (block, console, ...) hosted by <see cref="VirtioMmioTransport"/>. The transport owns feature
/// negotiation, the status state machine, the queues' registers and interrupts; the backend owns the device-specific
/// features, configuration space and request processing. All calls come from the VM thread.
/// </summary>
public interface IVirtioDeviceBackend
{
    /// <summary>Virtio device ID (2 = block).</summary>
    uint DeviceId { get; }

    /// <summary>Device-specific feature bits offered (bits 0..23); the transport adds the ring and version bits.</summary>
    ulong DeviceFeatures { get; }

    /// <summary>Number of virtqueues.</summary>
    int QueueCount { get; }

    /// <summary>Size of the device configuration space in bytes.</summary>
    int ConfigSize { get; }

    /// <summary>Maximum size (QueueNumMax) of a queue: a power of two, at most 32768.</summary>
    ushort GetQueueMaxSize(int queueIndex);

    /// <summary>Reads configuration bytes; the transport guarantees the range lies inside <see cref="ConfigSize"/>.</summary>
    void ReadConfig(int offset, Span<byte> destination);

    /// <summary>Writes configuration bytes; the transport guarantees the range lies inside <see cref="ConfigSize"/>.</summary>
    void WriteConfig(int offset, ReadOnlySpan<byte> data);

    /// <summary>The driver set DRIVER_OK with these negotiated features.</summary>
    void Activate(ulong negotiatedFeatures);

    /// <summary>The driver reset the device (status 0): forget negotiated state.</summary>
    void Reset();

    /// <summary>
    /// The driver notified <paramref name="queue"/>: pop and complete available requests. Malformed requests are
    /// completed with the device's error status where possible, otherwise the queue is marked broken with
    /// <see cref="Virtqueue.MarkBroken"/>, which puts the device into DEVICE_NEEDS_RESET. Must not throw on guest input.
    /// </summary>
    void ProcessQueue(Virtqueue queue);
}
