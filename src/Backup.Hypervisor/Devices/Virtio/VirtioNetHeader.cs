using System.Buffers.Binary;
using Backup.Network.Ethernet;

namespace Backup.Hypervisor.Devices.Virtio;

/// <summary>
/// struct virtio_net_hdr as a VERSION_1 device sees it (virtio 1.x section 5.1.6): flags, gso_type, hdr_len,
/// gso_size, csum_start, csum_offset and num_buffers, 12 bytes, little-endian.
/// </summary>
public readonly record struct VirtioNetHeader(byte Flags, byte GsoType, ushort HeaderLength, ushort GsoSize,
    ushort ChecksumStart, ushort ChecksumOffset, ushort BufferCount)
{
    /// <summary>Size of the header with VIRTIO_F_VERSION_1 (num_buffers always present).</summary>
    public const int Size = 12;

    /// <summary>VIRTIO_NET_HDR_F_NEEDS_CSUM.</summary>
    public const byte NeedsChecksumFlag = 1;

    /// <summary>VIRTIO_NET_HDR_F_DATA_VALID (receive only).</summary>
    public const byte DataValidFlag = 2;

    /// <summary>VIRTIO_NET_HDR_GSO_NONE.</summary>
    public const byte GsoNone = 0;

    /// <summary>VIRTIO_NET_HDR_GSO_TCPV4.</summary>
    public const byte GsoTcpV4 = 1;

    /// <summary>VIRTIO_NET_HDR_GSO_UDP (not offered).</summary>
    public const byte GsoUdp = 3;

    /// <summary>VIRTIO_NET_HDR_GSO_TCPV6.</summary>
    public const byte GsoTcpV6 = 4;

    /// <summary>VIRTIO_NET_HDR_GSO_ECN (not offered).</summary>
    public const byte GsoEcn = 0x80;

    /// <summary>Reads a header from its 12 bytes.</summary>
    public static VirtioNetHeader Read(ReadOnlySpan<byte> bytes) => new(
        bytes[0],
        bytes[1],
        BinaryPrimitives.ReadUInt16LittleEndian(bytes[2..]),
        BinaryPrimitives.ReadUInt16LittleEndian(bytes[4..]),
        BinaryPrimitives.ReadUInt16LittleEndian(bytes[6..]),
        BinaryPrimitives.ReadUInt16LittleEndian(bytes[8..]),
        BinaryPrimitives.ReadUInt16LittleEndian(bytes[10..]));

    /// <summary>The header describing a received frame's offload, for <paramref name="buffers"/> receive buffers.</summary>
    public static VirtioNetHeader ForReceive(in FrameOffload offload, ushort buffers) => new(
        offload.NeedsChecksum ? NeedsChecksumFlag : (byte)0,
        offload.Segmentation switch
        {
            SegmentationKind.TcpV4 => GsoTcpV4,
            SegmentationKind.TcpV6 => GsoTcpV6,
            _ => GsoNone,
        },
        offload.Segmentation == SegmentationKind.None ? (ushort)0 : offload.HeaderLength,
        offload.Segmentation == SegmentationKind.None ? (ushort)0 : offload.SegmentSize,
        offload.NeedsChecksum ? offload.ChecksumStart : (ushort)0,
        offload.NeedsChecksum ? offload.ChecksumOffset : (ushort)0,
        buffers);

    /// <summary>Writes the 12 bytes.</summary>
    public void Write(Span<byte> destination)
    {
        destination[0] = Flags;
        destination[1] = GsoType;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[2..], HeaderLength);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[4..], GsoSize);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], ChecksumStart);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[8..], ChecksumOffset);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[10..], BufferCount);
    }
}
