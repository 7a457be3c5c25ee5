using System.Buffers.Binary;
using System.Text;
using Backup.Network.Ethernet;

namespace Backup.Network.Dhcp;

/// <summary>A BOOTP/DHCP message (RFC 2131 section 2, options RFC 2132): parsing with bounds checks, and replies.</summary>
internal sealed class DhcpMessage
{
    public const byte Discover = 1, Offer = 2, Request = 3, Decline = 4, Ack = 5, Nak = 6, Release = 7, Inform = 8;
    private const uint MagicCookie = 0x63825363;

    public byte Type { get; private init; }

    public uint TransactionId { get; private init; }

    public ushort Flags { get; private init; }

    public uint ClientAddress { get; private init; }

    public uint RelayAddress { get; private init; }

    public MacAddress ClientMac { get; private init; }

    public uint? RequestedAddress { get; private init; }

    public uint? ServerIdentifier { get; private init; }

    public string? Hostname { get; private init; }

    public bool Broadcast => (Flags & 0x8000) != 0;

    /// <summary>Parses a client message; null when it is not a well-formed Ethernet DHCP request.</summary>
    public static DhcpMessage? TryParse(ReadOnlySpan<byte> p)
    {
        if (p.Length < 240 || p[0] != 1 || p[1] != 1 || p[2] != 6 || BinaryPrimitives.ReadUInt32BigEndian(p[236..]) != MagicCookie)
        {
            return null;
        }

        byte type = 0;
        uint? requested = null, server = null;
        string? hostname = null;
        var options = p[240..];
        int i = 0;
        while (i < options.Length)
        {
            byte code = options[i];
            if (code == 255)
            {
                break;
            }

            if (code == 0)
            {
                i++;
                continue;
            }

            if (i + 1 >= options.Length || i + 2 + options[i + 1] > options.Length)
            {
                return null;
            }

            var value = options.Slice(i + 2, options[i + 1]);
            switch (code)
            {
                case 53 when value.Length == 1:
                    type = value[0];
                    break;
                case 50 when value.Length == 4:
                    requested = BinaryPrimitives.ReadUInt32BigEndian(value);
                    break;
                case 54 when value.Length == 4:
                    server = BinaryPrimitives.ReadUInt32BigEndian(value);
                    break;
                case 12 when value.Length > 0:
                    hostname = Encoding.ASCII.GetString(value);
                    break;
            }

            i += 2 + value.Length;
        }

        if (type is < Discover or > Inform)
        {
            return null;
        }

        return new DhcpMessage
        {
            Type = type,
            TransactionId = BinaryPrimitives.ReadUInt32BigEndian(p[4..]),
            Flags = BinaryPrimitives.ReadUInt16BigEndian(p[10..]),
            ClientAddress = BinaryPrimitives.ReadUInt32BigEndian(p[12..]),
            RelayAddress = BinaryPrimitives.ReadUInt32BigEndian(p[24..]),
            ClientMac = MacAddress.Read(p[28..]),
            RequestedAddress = requested,
            ServerIdentifier = server,
            Hostname = hostname,
        };
    }

    /// <summary>Builds a reply (OFFER, ACK or NAK) to this message.</summary>
    public byte[] Reply(byte type, uint yourAddress, uint serverAddress, IReadOnlyList<(byte Code, byte[] Value)> options)
    {
        var reply = new byte[548];
        reply[0] = 2;
        reply[1] = 1;
        reply[2] = 6;
        BinaryPrimitives.WriteUInt32BigEndian(reply.AsSpan(4), TransactionId);
        BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(10), Flags);
        BinaryPrimitives.WriteUInt32BigEndian(reply.AsSpan(12), type == Nak ? 0 : ClientAddress);
        BinaryPrimitives.WriteUInt32BigEndian(reply.AsSpan(16), yourAddress);
        BinaryPrimitives.WriteUInt32BigEndian(reply.AsSpan(20), serverAddress);
        BinaryPrimitives.WriteUInt32BigEndian(reply.AsSpan(24), RelayAddress);
        ClientMac.Write(reply.AsSpan(28));
        BinaryPrimitives.WriteUInt32BigEndian(reply.AsSpan(236), MagicCookie);
        int at = 240;
        reply[at++] = 53;
        reply[at++] = 1;
        reply[at++] = type;
        foreach (var (code, value) in options)
        {
            reply[at++] = code;
            reply[at++] = (byte)value.Length;
            value.CopyTo(reply.AsSpan(at));
            at += value.Length;
        }

        reply[at++] = 255;
        return reply[..Math.Max(at, 300)]; // BOOTP's minimum message size, which some clients insist on
    }
}
