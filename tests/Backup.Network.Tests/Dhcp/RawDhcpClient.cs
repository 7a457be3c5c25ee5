using System.Buffers.Binary;
using System.Net;
using System.Text;
using Backup.Network.Ethernet;
using Backup.Network.Protocols;
using Backup.Network.Switching;

namespace Backup.Network.Tests.Dhcp;

/// <summary>A DHCP client built from raw frames on its own switch port, like busybox udhcpc on a raw socket.</summary>
internal sealed class RawDhcpClient(SwitchPort port, MacAddress mac)
{
    public uint Xid { get; } = (uint)Random.Shared.Next();

    public byte[] Message(byte type, bool broadcast = true, uint ciaddr = 0, uint? requested = null, uint? server = null, string? hostname = null, MacAddress? chaddr = null)
    {
        var m = new List<byte>(new byte[240]);
        var span = new byte[240];
        span[0] = 1;
        span[1] = 1;
        span[2] = 6;
        BinaryPrimitives.WriteUInt32BigEndian(span.AsSpan(4), Xid);
        BinaryPrimitives.WriteUInt16BigEndian(span.AsSpan(10), (ushort)(broadcast ? 0x8000 : 0));
        BinaryPrimitives.WriteUInt32BigEndian(span.AsSpan(12), ciaddr);
        (chaddr ?? mac).Write(span.AsSpan(28));
        BinaryPrimitives.WriteUInt32BigEndian(span.AsSpan(236), 0x63825363);
        m = [.. span, 53, 1, type];
        if (requested is { } r)
        {
            m.AddRange([50, 4, .. Be(r)]);
        }

        if (server is { } s)
        {
            m.AddRange([54, 4, .. Be(s)]);
        }

        if (hostname is not null)
        {
            m.AddRange([12, (byte)hostname.Length, .. Encoding.ASCII.GetBytes(hostname)]);
        }

        m.AddRange([55, 3, 1, 3, 6, 255]);
        return [.. m];
    }

    /// <summary>Sends a UDP datagram 68 to 67 in a frame from this client's MAC.</summary>
    public bool Send(byte[] payload, uint sourceIp = 0, uint destinationIp = 0xFFFFFFFF, MacAddress? destinationMac = null)
    {
        int l4 = 8 + payload.Length;
        var f = TestFrames.Ethernet(destinationMac ?? MacAddress.Broadcast, mac, EtherTypes.IPv4, 20 + l4);
        var ip = f.AsSpan(14);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + l4));
        ip[8] = 64;
        ip[9] = EtherTypes.Udp;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], sourceIp);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], destinationIp);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], TestFrames.Checksum(ip[..20], 0));
        var udp = ip[20..];
        BinaryPrimitives.WriteUInt16BigEndian(udp, 68);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], 67);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)l4);
        payload.CopyTo(udp[8..]);
        return port.Transmit(f, FrameOffload.None);
    }

    /// <summary>Waits for a DHCP reply to this client; returns the frame's destination MAC and IP, yiaddr and the options.</summary>
    public async Task<Reply> ReceiveAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var buffer = new byte[2000];
        while (DateTime.UtcNow < deadline)
        {
            while (port.TryReceive(buffer, out int length, out _))
            {
                var f = buffer.AsSpan(0, length);
                if (BinaryPrimitives.ReadUInt16BigEndian(f[12..]) != EtherTypes.IPv4 || f[23] != EtherTypes.Udp
                    || BinaryPrimitives.ReadUInt16BigEndian(f[36..]) != 68)
                {
                    continue;
                }

                Assert.True(TestFrames.ChecksumsVerify(f), "reply checksums");
                var p = f[42..];
                if (BinaryPrimitives.ReadUInt32BigEndian(p[4..]) != Xid)
                {
                    continue;
                }

                var options = new Dictionary<byte, byte[]>();
                for (int i = 240; i < p.Length && p[i] != 255;)
                {
                    if (p[i] == 0)
                    {
                        i++;
                        continue;
                    }

                    options[p[i]] = p.Slice(i + 2, p[i + 1]).ToArray();
                    i += 2 + p[i + 1];
                }

                return new Reply(MacAddress.Read(f), new IPAddress(f.Slice(30, 4)), new IPAddress(p.Slice(16, 4)), options, p.Length);
            }

            await Task.Delay(10);
        }

        throw new TimeoutException("no DHCP reply");
    }

    public static byte[] Be(uint v)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, v);
        return b;
    }

    public sealed record Reply(MacAddress DestinationMac, IPAddress Destination, IPAddress YourAddress, Dictionary<byte, byte[]> Options, int Length)
    {
        public byte Type => Options[53][0];
    }
}
