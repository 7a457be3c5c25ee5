namespace Backup.Network.Ethernet;

/// <summary>Offloads a receiver can complete itself (virtio-net's GUEST_CSUM and GUEST_TSO4/6).</summary>
[Flags]
public enum OffloadCapabilities
{
    /// <summary>Only finished frames of at most <see cref="FrameLimits.MaximumLength"/> bytes.</summary>
    None = 0,

    /// <summary>Frames whose transport checksum is partial (<see cref="FrameOffload.NeedsChecksum"/>).</summary>
    Checksum = 1,

    /// <summary>TCP/IPv4 super-frames.</summary>
    TcpV4Segmentation = 2,

    /// <summary>TCP/IPv6 super-frames.</summary>
    TcpV6Segmentation = 4,
}
