using System.Globalization;
using System.Security.Cryptography;

namespace Backup.Network.Ethernet;

/// <summary>A 48-bit Ethernet address, held in the low 48 bits of <see cref="Value"/> (first octet most significant).</summary>
public readonly record struct MacAddress(ulong Value)
{
    /// <summary>ff:ff:ff:ff:ff:ff.</summary>
    public static readonly MacAddress Broadcast = new(0xFFFF_FFFF_FFFFUL);

    /// <summary>True for a group address (the I/G bit of the first octet), broadcast included.</summary>
    public bool IsMulticast => ((Value >> 40) & 1) != 0;

    /// <summary>True for ff:ff:ff:ff:ff:ff.</summary>
    public bool IsBroadcast => Value == Broadcast.Value;

    /// <summary>Reads six octets.</summary>
    public static MacAddress Read(ReadOnlySpan<byte> octets)
    {
        if (octets.Length < 6)
        {
            throw new ArgumentException($"a MAC address is 6 octets; {octets.Length} given", nameof(octets));
        }

        ulong v = 0;
        for (int i = 0; i < 6; i++)
        {
            v = (v << 8) | octets[i];
        }

        return new MacAddress(v);
    }

    /// <summary>Writes six octets.</summary>
    public void Write(Span<byte> destination)
    {
        for (int i = 0; i < 6; i++)
        {
            destination[i] = (byte)(Value >> (40 - (8 * i)));
        }
    }

    /// <summary>Parses aa:bb:cc:dd:ee:ff (or with dashes); throws <see cref="FormatException"/> naming the text.</summary>
    public static MacAddress Parse(string text)
    {
        if (!TryParse(text, out var mac))
        {
            throw new FormatException($"'{text}' is not a MAC address (six hex octets separated by ':', e.g. 52:54:00:12:34:56)");
        }

        return mac;
    }

    /// <summary>Parses aa:bb:cc:dd:ee:ff (or with dashes).</summary>
    public static bool TryParse(string? text, out MacAddress mac)
    {
        mac = default;
        if (text is null)
        {
            return false;
        }

        string[] parts = text.Split(text.Contains('-', StringComparison.Ordinal) ? '-' : ':');
        if (parts.Length != 6)
        {
            return false;
        }

        ulong v = 0;
        foreach (string p in parts)
        {
            if (p.Length != 2 || !byte.TryParse(p, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte b))
            {
                return false;
            }

            v = (v << 8) | b;
        }

        mac = new MacAddress(v);
        return true;
    }

    /// <summary>A random locally administered unicast address in QEMU's 52:54:00 range.</summary>
    public static MacAddress NewRandom()
    {
        Span<byte> tail = stackalloc byte[3];
        RandomNumberGenerator.Fill(tail);
        return new MacAddress(0x5254_0000_0000UL | ((ulong)tail[0] << 16) | ((ulong)tail[1] << 8) | tail[2]);
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{(Value >> 40) & 0xFF:x2}:{(Value >> 32) & 0xFF:x2}:{(Value >> 24) & 0xFF:x2}:{(Value >> 16) & 0xFF:x2}:{(Value >> 8) & 0xFF:x2}:{Value & 0xFF:x2}");
}
