using System.Buffers;
using System.Buffers.Binary;
using Backup.Network.Ethernet;
using Backup.Network.Protocols;

namespace Backup.Network.Switching;

/// <summary>
/// Does the work a frame's sender left (<see cref="FrameOffload"/>) when its receiver cannot: completes a partial
/// transport checksum and cuts TCP super-frames (TSO4, TSO6) into MSS-sized, fully checksummed frames.
/// </summary>
internal static class OffloadFinisher
{
    /// <summary>Smallest MSS a super-frame may ask for (Linux's TCP_MIN_SND_MSS): a tiny one would turn one frame into thousands.</summary>
    public const int MinimumSegmentSize = 48;

    /// <summary>True when <paramref name="offload"/> asks for something <paramref name="accepted"/> lacks.</summary>
    public static bool NeedsFinishing(in FrameOffload offload, OffloadCapabilities accepted)
    {
        if (offload.Segmentation == SegmentationKind.TcpV4 && (accepted & OffloadCapabilities.TcpV4Segmentation) == 0)
        {
            return true;
        }

        if (offload.Segmentation == SegmentationKind.TcpV6 && (accepted & OffloadCapabilities.TcpV6Segmentation) == 0)
        {
            return true;
        }

        return offload.NeedsChecksum && (accepted & OffloadCapabilities.Checksum) == 0;
    }

    /// <summary>Checks that the offload fields fit the frame; a false here means the frame is malformed.</summary>
    public static bool IsConsistent(ReadOnlySpan<byte> frame, in FrameOffload offload)
    {
        if (offload.NeedsChecksum && offload.ChecksumStart + offload.ChecksumOffset + 2 > frame.Length)
        {
            return false;
        }

        return offload.Segmentation switch
        {
            SegmentationKind.None => frame.Length <= FrameLimits.MaximumLength,
            SegmentationKind.TcpV4 or SegmentationKind.TcpV6 =>
                offload.SegmentSize >= MinimumSegmentSize && frame.Length <= FrameLimits.MaximumSuperFrameLength,
            _ => false,
        };
    }

    /// <summary>Finishes the frame into <paramref name="sink"/>; false when it cannot be finished (malformed headers).</summary>
    public static bool Finish(ReadOnlySpan<byte> frame, in FrameOffload offload, IFrameSink sink)
    {
        if (offload.Segmentation == SegmentationKind.None)
        {
            byte[] copy = ArrayPool<byte>.Shared.Rent(frame.Length);
            Span<byte> f = copy.AsSpan(0, frame.Length);
            frame.CopyTo(f);
            CompleteChecksum(f, offload.ChecksumStart, offload.ChecksumOffset);
            return sink.TakeRented(copy, frame.Length);
        }

        return Segment(frame, offload, sink);
    }

    /// <summary>Stores the complement of the sum from <paramref name="start"/> to the end at start+offset (which holds the pseudo-header sum).</summary>
    public static void CompleteChecksum(Span<byte> frame, int start, int offset)
    {
        ushort sum = InternetChecksum.Compute(frame[start..]);
        bool udp = IsUdpAt(frame, start);
        if (udp && sum == 0)
        {
            sum = 0xFFFF;
        }

        BinaryPrimitives.WriteUInt16BigEndian(frame[(start + offset)..], sum);
    }

    private static bool IsUdpAt(ReadOnlySpan<byte> frame, int start)
    {
        var (l3, type) = EtherTypes.Layer3(frame);
        if (type == EtherTypes.IPv4 && l3 >= 0 && frame.Length >= l3 + 20)
        {
            return frame[l3 + 9] == EtherTypes.Udp && l3 + ((frame[l3] & 0xF) * 4) == start;
        }

        if (type == EtherTypes.IPv6 && l3 >= 0 && frame.Length >= l3 + 40)
        {
            return frame[l3 + 6] == EtherTypes.Udp && l3 + 40 == start;
        }

        return false;
    }

    private static bool Segment(ReadOnlySpan<byte> frame, in FrameOffload offload, IFrameSink sink)
    {
        var (l3, type) = EtherTypes.Layer3(frame);
        bool v4 = offload.Segmentation == SegmentationKind.TcpV4;
        if (l3 < 0 || type != (v4 ? EtherTypes.IPv4 : EtherTypes.IPv6))
        {
            return false;
        }

        int ipHeader;
        if (v4)
        {
            if (frame.Length < l3 + 20 || (frame[l3] >> 4) != 4 || frame[l3 + 9] != EtherTypes.Tcp)
            {
                return false;
            }

            ipHeader = (frame[l3] & 0xF) * 4;
        }
        else
        {
            if (frame.Length < l3 + 40 || (frame[l3] >> 4) != 6 || frame[l3 + 6] != EtherTypes.Tcp)
            {
                return false;
            }

            ipHeader = 40;
        }

        int l4 = l3 + ipHeader;
        if (ipHeader < 20 || frame.Length < l4 + 20)
        {
            return false;
        }

        int tcpHeader = (frame[l4 + 12] >> 4) * 4;
        int headers = l4 + tcpHeader;
        if (tcpHeader < 20 || frame.Length < headers)
        {
            return false;
        }

        int mss = offload.SegmentSize;
        if (headers + mss > FrameLimits.MaximumLength)
        {
            return false; // its segments would not be ordinary frames either
        }

        return EmitSegments(frame[..headers], frame[headers..], l3, l4, v4, mss, sink);
    }

    private static bool EmitSegments(ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload, int l3, int l4, bool v4, int mss, IFrameSink sink)
    {
        int headers = header.Length;
        uint seq = BinaryPrimitives.ReadUInt32BigEndian(header[(l4 + 4)..]);
        ushort ipId = v4 ? BinaryPrimitives.ReadUInt16BigEndian(header[(l3 + 4)..]) : (ushort)0;
        byte flags = header[l4 + 13];
        const byte fin = 0x01, psh = 0x08, cwr = 0x80;
        int count = Math.Max(1, (payload.Length + mss - 1) / mss);
        bool all = true;
        for (int i = 0; i < count; i++)
        {
            int off = i * mss;
            int len = Math.Min(mss, payload.Length - off);
            byte[] buffer = ArrayPool<byte>.Shared.Rent(headers + len);
            Span<byte> f = buffer.AsSpan(0, headers + len);
            header.CopyTo(f);
            payload.Slice(off, len).CopyTo(f[headers..]);
            bool last = i == count - 1;
            byte segFlags = flags;
            if (!last)
            {
                segFlags &= unchecked((byte)~(fin | psh));
            }

            if (i > 0)
            {
                segFlags &= unchecked((byte)~cwr);
            }

            f[l4 + 13] = segFlags;
            BinaryPrimitives.WriteUInt32BigEndian(f[(l4 + 4)..], seq + (uint)off);
            int transportLength = headers - l4 + len;
            ulong pseudo;
            if (v4)
            {
                BinaryPrimitives.WriteUInt16BigEndian(f[(l3 + 2)..], (ushort)(l4 - l3 + transportLength));
                BinaryPrimitives.WriteUInt16BigEndian(f[(l3 + 4)..], (ushort)(ipId + i));
                f[l3 + 10] = 0;
                f[l3 + 11] = 0;
                BinaryPrimitives.WriteUInt16BigEndian(f[(l3 + 10)..], InternetChecksum.Compute(f[l3..l4]));
                pseudo = InternetChecksum.PseudoHeaderV4(f[(l3 + 12)..], f[(l3 + 16)..], EtherTypes.Tcp, transportLength);
            }
            else
            {
                BinaryPrimitives.WriteUInt16BigEndian(f[(l3 + 4)..], (ushort)transportLength);
                pseudo = InternetChecksum.PseudoHeaderV6(f[(l3 + 8)..], f[(l3 + 24)..], EtherTypes.Tcp, transportLength);
            }

            f[l4 + 16] = 0;
            f[l4 + 17] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(f[(l4 + 16)..], InternetChecksum.Compute(f[l4..], pseudo));
            all &= sink.TakeRented(buffer, headers + len);
        }

        return all;
    }
}
