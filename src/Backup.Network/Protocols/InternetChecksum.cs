using System.Buffers.Binary;

namespace Backup.Network.Protocols;

/// <summary>The 16-bit ones'-complement sum of RFC 1071, used by IPv4, ICMP, UDP and TCP.</summary>
internal static class InternetChecksum
{
    /// <summary>Adds <paramref name="data"/> (big-endian 16-bit words, an odd last byte padded) to a running 32-bit sum.</summary>
    public static ulong Add(ulong sum, ReadOnlySpan<byte> data)
    {
        // 32-bit big-endian words fold to the same ones'-complement sum as 16-bit ones (2^16 = 1 mod 2^16-1); the 64-bit
        // accumulator cannot overflow below 2^31 words, far beyond a 64 KiB packet
        int i = 0;
        while (i + 32 <= data.Length)
        {
            ulong a = BinaryPrimitives.ReadUInt64BigEndian(data[i..]);
            ulong b = BinaryPrimitives.ReadUInt64BigEndian(data[(i + 8)..]);
            ulong c = BinaryPrimitives.ReadUInt64BigEndian(data[(i + 16)..]);
            ulong d = BinaryPrimitives.ReadUInt64BigEndian(data[(i + 24)..]);
            sum += (a >> 32) + (a & 0xFFFF_FFFF) + (b >> 32) + (b & 0xFFFF_FFFF) + (c >> 32) + (c & 0xFFFF_FFFF) + (d >> 32) + (d & 0xFFFF_FFFF);
            i += 32;
        }

        while (i + 8 <= data.Length)
        {
            ulong w = BinaryPrimitives.ReadUInt64BigEndian(data[i..]);
            sum += (w >> 32) + (w & 0xFFFF_FFFF);
            i += 8;
        }

        while (i + 2 <= data.Length)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
            i += 2;
        }

        if (i < data.Length)
        {
            sum += (ulong)data[i] << 8;
        }

        return sum;
    }

    /// <summary>Folds a running sum to 16 bits (not complemented).</summary>
    public static ushort Fold(ulong sum)
    {
        while ((sum >> 16) != 0)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (ushort)sum;
    }

    /// <summary>The checksum to store: the complement of the folded sum.</summary>
    public static ushort Compute(ReadOnlySpan<byte> data, ulong initial = 0) => (ushort)~Fold(Add(initial, data));

    /// <summary>The IPv4 pseudo-header sum (source, destination, protocol, transport length).</summary>
    public static ulong PseudoHeaderV4(ReadOnlySpan<byte> source, ReadOnlySpan<byte> destination, byte protocol, int length)
    {
        ulong sum = Add(0, source[..4]);
        sum = Add(sum, destination[..4]);
        return sum + protocol + (ulong)length;
    }

    /// <summary>The IPv6 pseudo-header sum (source, destination, upper-layer length, next header).</summary>
    public static ulong PseudoHeaderV6(ReadOnlySpan<byte> source, ReadOnlySpan<byte> destination, byte nextHeader, int length)
    {
        ulong sum = Add(0, source[..16]);
        sum = Add(sum, destination[..16]);
        return sum + nextHeader + (ulong)(length & 0xFFFF) + (ulong)(length >> 16);
    }
}
