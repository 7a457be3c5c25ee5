using Backup.Network.Ethernet;

namespace Backup.Hypervisor.Devices.Virtio;

/// <summary>The transmit queue: chains validated, turned into a frame and its <see cref="FrameOffload"/>, sent to the link.</summary>
public sealed partial class VirtioNetDevice
{
    private long _framesTransmitted;
    private long _bytesTransmitted;
    private long _transmitMalformed;
    private long _transmitOversized;
    private long _transmitRefused;
    private long _superFramesTransmitted;

    /// <summary>Frames the guest sent that the link accepted.</summary>
    public long FramesTransmitted => Volatile.Read(ref _framesTransmitted);

    /// <summary>Bytes (Ethernet frames, without the virtio header) of <see cref="FramesTransmitted"/>.</summary>
    public long BytesTransmitted => Volatile.Read(ref _bytesTransmitted);

    /// <summary>Of <see cref="FramesTransmitted"/>, the TCP super-frames (segmentation left to the network or the receiver).</summary>
    public long SuperFramesTransmitted => Volatile.Read(ref _superFramesTransmitted);

    /// <summary>Transmit chains dropped as malformed (no header, bad descriptors, offload fields that do not fit, offloads not negotiated).</summary>
    public long TransmitDroppedMalformed => Volatile.Read(ref _transmitMalformed);

    /// <summary>Transmit frames dropped for exceeding <see cref="FrameLimits"/>.</summary>
    public long TransmitDroppedOversized => Volatile.Read(ref _transmitOversized);

    /// <summary>Transmit frames the link refused (link down, rate-limited, spoofed, or dropped by the network).</summary>
    public long TransmitDroppedByLink => Volatile.Read(ref _transmitRefused);

    /// <summary>
    /// Checks a transmitted frame and its header against the negotiated features. Returns null with the frame's
    /// offload, or why the frame is dropped; <paramref name="oversized"/> says whether the reason is its size.
    /// </summary>
    public static string? ValidateTransmit(in VirtioNetHeader header, ReadOnlySpan<byte> frame, ulong features,
        out FrameOffload offload, out bool oversized)
    {
        offload = FrameOffload.None;
        oversized = false;
        if (frame.Length < FrameLimits.MinimumLength)
        {
            return $"a {frame.Length}-byte frame is shorter than an Ethernet header";
        }

        if ((header.Flags & ~VirtioNetHeader.NeedsChecksumFlag) != 0)
        {
            return $"header flags 0x{header.Flags:x} are not valid on transmit";
        }

        bool needsChecksum = (header.Flags & VirtioNetHeader.NeedsChecksumFlag) != 0;
        if (needsChecksum)
        {
            if ((features & VirtioNetFeatures.Checksum) == 0)
            {
                return "a partial checksum (NEEDS_CSUM) without VIRTIO_NET_F_CSUM negotiated";
            }

            if (header.ChecksumStart + header.ChecksumOffset + 2 > frame.Length)
            {
                return $"checksum at {header.ChecksumStart}+{header.ChecksumOffset} lies outside the {frame.Length}-byte frame";
            }
        }

        if (header.GsoType == VirtioNetHeader.GsoNone)
        {
            if (frame.Length > FrameLimits.MaximumLength)
            {
                oversized = true;
                return $"a {frame.Length}-byte frame exceeds {FrameLimits.MaximumLength} bytes and asks for no segmentation";
            }

            offload = needsChecksum ? new FrameOffload(true, header.ChecksumStart, header.ChecksumOffset, SegmentationKind.None, 0, 0) : FrameOffload.None;
            return null;
        }

        return ValidateSegmentation(header, frame, features, needsChecksum, out offload, out oversized);
    }

    private static string? ValidateSegmentation(in VirtioNetHeader header, ReadOnlySpan<byte> frame, ulong features,
        bool needsChecksum, out FrameOffload offload, out bool oversized)
    {
        offload = FrameOffload.None;
        oversized = false;
        SegmentationKind kind;
        switch (header.GsoType)
        {
            case VirtioNetHeader.GsoTcpV4 when (features & VirtioNetFeatures.HostTso4) != 0:
                kind = SegmentationKind.TcpV4;
                break;
            case VirtioNetHeader.GsoTcpV6 when (features & VirtioNetFeatures.HostTso6) != 0:
                kind = SegmentationKind.TcpV6;
                break;
            default:
                return $"gso_type {header.GsoType} was not negotiated";
        }

        if (!needsChecksum)
        {
            return "a TCP super-frame without a partial checksum (NEEDS_CSUM)";
        }

        if (header.GsoSize == 0)
        {
            return "a TCP super-frame with gso_size 0";
        }

        if (frame.Length > FrameLimits.MaximumSuperFrameLength)
        {
            oversized = true;
            return $"a {frame.Length}-byte super-frame exceeds {FrameLimits.MaximumSuperFrameLength} bytes";
        }

        // The driver's hdr_len is only a hint (Linux puts the skb's linear length there): the headers end where the
        // TCP header (csum_start, as NEEDS_CSUM places it) says its data offset ends.
        int tcp = header.ChecksumStart;
        if (tcp + 20 > frame.Length)
        {
            return $"the TCP header at {tcp} does not fit in the {frame.Length}-byte super-frame";
        }

        int headerLength = tcp + ((frame[tcp + 12] >> 4) * 4);
        if (headerLength < tcp + 20 || headerLength > frame.Length)
        {
            return $"the TCP header at {tcp} claims {headerLength - tcp} bytes, beyond the {frame.Length}-byte super-frame";
        }

        offload = new FrameOffload(true, header.ChecksumStart, header.ChecksumOffset, kind, header.GsoSize, (ushort)headerLength);
        return null;
    }

    private void Transmit(Virtqueue queue)
    {
        // The guest cannot add chains while this runs (same thread): at most Size chains per notify.
        while (queue.TryPop(out var chain))
        {
            TransmitChain(queue, chain);
            queue.Complete(chain, 0);
        }
    }

    private void TransmitChain(Virtqueue queue, VirtqueueChain chain)
    {
        string? problem = chain.Defect
            ?? (chain.WritableLength != 0 ? "device-writable buffers in a transmit chain" : null)
            ?? (chain.ReadableLength < VirtioNetHeader.Size ? $"{chain.ReadableLength} bytes, no room for the {VirtioNetHeader.Size}-byte header" : null);
        if (problem is null && chain.ReadableLength - VirtioNetHeader.Size > _frame.Length)
        {
            _transmitOversized++;
            ReportDrop(queue, $"transmit at head {chain.HeadIndex}: a {chain.ReadableLength - VirtioNetHeader.Size}-byte frame exceeds {FrameLimits.MaximumSuperFrameLength} bytes; dropped");
            return;
        }

        Span<byte> headerBytes = stackalloc byte[VirtioNetHeader.Size];
        int length = (int)(chain.ReadableLength - VirtioNetHeader.Size);
        if (problem is null && (!chain.TryCopyFromReadable(0, headerBytes) || !chain.TryCopyFromReadable(VirtioNetHeader.Size, _frame.AsSpan(0, length))))
        {
            problem = "its buffers could not be read";
        }

        if (problem is not null)
        {
            _transmitMalformed++;
            ReportDrop(queue, $"transmit at head {chain.HeadIndex}: {problem}; dropped");
            return;
        }

        var header = VirtioNetHeader.Read(headerBytes);
        string? invalid = ValidateTransmit(header, _frame.AsSpan(0, length), _features, out var offload, out bool oversized);
        if (invalid is not null)
        {
            if (oversized)
            {
                _transmitOversized++;
            }
            else
            {
                _transmitMalformed++;
            }

            ReportDrop(queue, $"transmit at head {chain.HeadIndex}: {invalid}; dropped");
            return;
        }

        if (!_link.Transmit(_frame.AsSpan(0, length), offload))
        {
            _transmitRefused++;
            return;
        }

        _framesTransmitted++;
        _bytesTransmitted += length;
        if (offload.Segmentation != SegmentationKind.None)
        {
            _superFramesTransmitted++;
        }
    }
}
