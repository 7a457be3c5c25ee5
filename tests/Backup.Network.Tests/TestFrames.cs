using System.Buffers.Binary;
using Backup.Network.Ethernet;
using Backup.Network.Protocols;

namespace Backup.Network.Tests;

/// <summary>Raw frames built and checked byte by byte, independently of the code under test's builders.</summary>
internal static class TestFrames
{
    public static byte[] Ethernet(MacAddress dst, MacAddress src, ushort type, int payload)
    {
        var f = new byte[14 + payload];
        dst.Write(f);
        src.Write(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), type);
        return f;
    }

    /// <summary>A TCP/IPv4 frame with <paramref name="payload"/>; its TCP checksum holds only the pseudo-header sum when <paramref name="partial"/>.</summary>
    public static byte[] TcpV4(MacAddress dst, MacAddress src, byte[] srcIp, byte[] dstIp, uint seq, byte flags, ReadOnlySpan<byte> payload, bool partial)
    {
        var f = Ethernet(dst, src, EtherTypes.IPv4, 20 + 20 + payload.Length);
        var ip = f.AsSpan(14);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(40 + payload.Length));
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], 1000);
        ip[8] = 64;
        ip[9] = EtherTypes.Tcp;
        srcIp.CopyTo(ip[12..]);
        dstIp.CopyTo(ip[16..]);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum(ip[..20], 0));
        var tcp = ip[20..];
        BinaryPrimitives.WriteUInt16BigEndian(tcp, 1234);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], 80);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], seq);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[8..], 77);
        tcp[12] = 5 << 4;
        tcp[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], 65535);
        payload.CopyTo(tcp[20..]);
        ulong pseudo = Pseudo(srcIp, dstIp, EtherTypes.Tcp, 20 + payload.Length);
        ushort sum = partial ? Fold(pseudo) : Checksum(tcp, pseudo);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], sum);
        return f;
    }

    public static ulong Pseudo(byte[] src, byte[] dst, byte proto, int length) =>
        (ulong)((src[0] << 8) | src[1]) + (ulong)((src[2] << 8) | src[3]) + (ulong)((dst[0] << 8) | dst[1]) + (ulong)((dst[2] << 8) | dst[3]) + proto + (ulong)length;

    public static ushort Fold(ulong sum)
    {
        while (sum >> 16 != 0)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (ushort)sum;
    }

    /// <summary>Naive RFC 1071 checksum, written separately from the library's.</summary>
    public static ushort Checksum(ReadOnlySpan<byte> data, ulong initial)
    {
        ulong sum = initial;
        for (int i = 0; i < data.Length; i += 2)
        {
            sum += (ulong)(data[i] << 8) + (i + 1 < data.Length ? data[i + 1] : 0u);
        }

        return (ushort)~Fold(sum);
    }

    /// <summary>True when an IPv4 frame's IP header and TCP/UDP checksum verify.</summary>
    public static bool ChecksumsVerify(ReadOnlySpan<byte> frame)
    {
        var ip = frame[14..];
        int ihl = (ip[0] & 0xF) * 4;
        int total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        if (Checksum(ip[..ihl], 0) != 0 || total + 14 != frame.Length)
        {
            return false;
        }

        ulong pseudo = Pseudo(ip[12..16].ToArray(), ip[16..20].ToArray(), ip[9], total - ihl);
        return Checksum(ip[ihl..total], pseudo) == 0;
    }

    public static List<(byte[] Frame, FrameOffload Offload)> Drain(INetworkLink link)
    {
        var frames = new List<(byte[], FrameOffload)>();
        var buffer = new byte[FrameLimits.MaximumSuperFrameLength];
        while (link.TryReceive(buffer, out int length, out var offload))
        {
            frames.Add((buffer[..length], offload));
        }

        return frames;
    }
}
