using System.Buffers.Binary;

namespace Backup.Network.Tcp;

/// <summary>A parsed TCP header (RFC 9293) with the options the endpoint uses: MSS and window scale (RFC 7323).</summary>
internal readonly record struct TcpHeader(
    ushort SourcePort,
    ushort DestinationPort,
    uint Seq,
    uint Ack,
    byte Flags,
    ushort Window,
    int HeaderLength,
    int Mss,
    int WindowScale)
{
    public const byte Fin = 0x01;
    public const byte Syn = 0x02;
    public const byte Rst = 0x04;
    public const byte Psh = 0x08;
    public const byte AckFlag = 0x10;

    public bool IsFin => (Flags & Fin) != 0;

    public bool IsSyn => (Flags & Syn) != 0;

    public bool IsRst => (Flags & Rst) != 0;

    public bool IsAck => (Flags & AckFlag) != 0;

    /// <summary>Parses a segment's header; false when it is malformed (lengths or options out of bounds).</summary>
    public static bool TryParse(ReadOnlySpan<byte> segment, out TcpHeader header)
    {
        header = default;
        if (segment.Length < 20)
        {
            return false;
        }

        int length = (segment[12] >> 4) * 4;
        if (length < 20 || length > segment.Length)
        {
            return false;
        }

        int mss = -1, scale = -1;
        var options = segment[20..length];
        int i = 0;
        while (i < options.Length)
        {
            byte kind = options[i];
            if (kind == 0)
            {
                break;
            }

            if (kind == 1)
            {
                i++;
                continue;
            }

            if (i + 1 >= options.Length || options[i + 1] < 2 || i + options[i + 1] > options.Length)
            {
                return false;
            }

            int optionLength = options[i + 1];
            if (kind == 2 && optionLength == 4)
            {
                mss = BinaryPrimitives.ReadUInt16BigEndian(options[(i + 2)..]);
            }
            else if (kind == 3 && optionLength == 3)
            {
                scale = Math.Min((int)options[i + 2], 14);
            }

            i += optionLength;
        }

        header = new TcpHeader(
            BinaryPrimitives.ReadUInt16BigEndian(segment),
            BinaryPrimitives.ReadUInt16BigEndian(segment[2..]),
            BinaryPrimitives.ReadUInt32BigEndian(segment[4..]),
            BinaryPrimitives.ReadUInt32BigEndian(segment[8..]),
            segment[13],
            BinaryPrimitives.ReadUInt16BigEndian(segment[14..]),
            length,
            mss,
            scale);
        return true;
    }
}
