namespace Backup.Hypervisor.Devices.Virtio;

/// <summary>virtio-net feature bits and configuration-space layout (virtio 1.x, section 5.1.3 and 5.1.4).</summary>
public static class VirtioNetFeatures
{
    /// <summary>VIRTIO_NET_F_CSUM (0): the device completes partial checksums of transmitted frames.</summary>
    public const ulong Checksum = 1UL << 0;

    /// <summary>VIRTIO_NET_F_GUEST_CSUM (1): the driver accepts received frames with partial checksums.</summary>
    public const ulong GuestChecksum = 1UL << 1;

    /// <summary>VIRTIO_NET_F_MTU (3): the configuration space's mtu field is valid.</summary>
    public const ulong Mtu = 1UL << 3;

    /// <summary>VIRTIO_NET_F_MAC (5): the configuration space's mac field is valid.</summary>
    public const ulong Mac = 1UL << 5;

    /// <summary>VIRTIO_NET_F_GUEST_TSO4 (7): the driver accepts TCP/IPv4 super-frames.</summary>
    public const ulong GuestTso4 = 1UL << 7;

    /// <summary>VIRTIO_NET_F_GUEST_TSO6 (8): the driver accepts TCP/IPv6 super-frames.</summary>
    public const ulong GuestTso6 = 1UL << 8;

    /// <summary>VIRTIO_NET_F_HOST_TSO4 (11): the device takes TCP/IPv4 super-frames on transmit.</summary>
    public const ulong HostTso4 = 1UL << 11;

    /// <summary>VIRTIO_NET_F_HOST_TSO6 (12): the device takes TCP/IPv6 super-frames on transmit.</summary>
    public const ulong HostTso6 = 1UL << 12;

    /// <summary>VIRTIO_NET_F_MRG_RXBUF (15): a received frame may span several receive buffers (num_buffers).</summary>
    public const ulong MergeableReceiveBuffers = 1UL << 15;

    /// <summary>VIRTIO_NET_F_STATUS (16): the configuration space's status field is valid (link up/down).</summary>
    public const ulong Status = 1UL << 16;

    /// <summary>Everything this device offers.</summary>
    public const ulong Offered = Checksum | GuestChecksum | Mtu | Mac | GuestTso4 | GuestTso6 | HostTso4 | HostTso6
        | MergeableReceiveBuffers | Status;

    /// <summary>VIRTIO_NET_S_LINK_UP in the status field.</summary>
    public const ushort LinkUp = 1;

    /// <summary>The MTU reported with <see cref="Mtu"/>: Ethernet's 1500.</summary>
    public const ushort DefaultMtu = 1500;

    /// <summary>Configuration space: mac[6] at 0, status at 6, max_virtqueue_pairs at 8, mtu at 10.</summary>
    public const int ConfigLength = 12;
}
