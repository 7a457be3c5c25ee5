namespace Backup.Network.Ethernet;

/// <summary>Which segmentation a super-frame asks for (virtio-net's gso_type, without the ECN bit).</summary>
public enum SegmentationKind : byte
{
    /// <summary>An ordinary frame.</summary>
    None = 0,

    /// <summary>TCP over IPv4 (TSO4).</summary>
    TcpV4 = 1,

    /// <summary>TCP over IPv6 (TSO6).</summary>
    TcpV6 = 4,
}
