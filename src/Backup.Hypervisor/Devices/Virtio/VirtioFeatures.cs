namespace Backup.Hypervisor.Devices.Virtio;

/// <summary>Device-independent virtio feature bits (virtio 1.x, section 6) used by this transport.</summary>
public static class VirtioFeatures
{
    /// <summary>VIRTIO_RING_F_INDIRECT_DESC (bit 28): descriptors may point to indirect descriptor tables.</summary>
    public const ulong RingIndirectDescriptors = 1UL << 28;

    /// <summary>VIRTIO_RING_F_EVENT_IDX (bit 29). Not offered by this transport.</summary>
    public const ulong RingEventIndex = 1UL << 29;

    /// <summary>VIRTIO_F_VERSION_1 (bit 32): the modern interface; required by this transport.</summary>
    public const ulong Version1 = 1UL << 32;

    /// <summary>Bits 0..23 are device-type specific.</summary>
    public const ulong DeviceSpecificMask = (1UL << 24) - 1;
}
