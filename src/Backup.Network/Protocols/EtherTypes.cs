namespace Backup.Network.Protocols;

/// <summary>EtherType and IP protocol numbers the network reads.</summary>
internal static class EtherTypes
{
    public const ushort IPv4 = 0x0800;
    public const ushort Arp = 0x0806;
    public const ushort Vlan = 0x8100;
    public const ushort IPv6 = 0x86DD;

    public const byte Icmp = 1;
    public const byte Tcp = 6;
    public const byte Udp = 17;

    /// <summary>Offset of the layer-3 header (14, or 18 behind one 802.1Q tag) and the EtherType found there.</summary>
    public static (int Offset, ushort Type) Layer3(ReadOnlySpan<byte> frame)
    {
        ushort type = (ushort)((frame[12] << 8) | frame[13]);
        if (type == Vlan)
        {
            return frame.Length < 18 ? (-1, (ushort)0) : (18, (ushort)((frame[16] << 8) | frame[17]));
        }

        return (14, type);
    }
}
