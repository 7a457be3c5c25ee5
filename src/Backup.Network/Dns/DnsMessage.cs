using System.Buffers.Binary;
using System.Text;

namespace Backup.Network.Dns;

/// <summary>Reading a DNS query (RFC 1035) safely: bounded labels and names, compression pointers only backwards and few.</summary>
internal static class DnsMessage
{
    public const ushort TypeA = 1, TypePtr = 12, TypeAaaa = 28, TypeAny = 255;
    private const int MaxPointerHops = 16;

    /// <summary>Reads the name at <paramref name="offset"/>; false when malformed. <paramref name="next"/> is where the name's bytes end.</summary>
    public static bool TryReadName(ReadOnlySpan<byte> packet, int offset, out string name, out int next)
    {
        name = "";
        next = -1;
        var labels = new StringBuilder();
        int at = offset, hops = 0, length = 0;
        while (true)
        {
            if (at >= packet.Length)
            {
                return false;
            }

            byte b = packet[at];
            if ((b & 0xC0) == 0xC0)
            {
                if (at + 1 >= packet.Length || ++hops > MaxPointerHops)
                {
                    return false;
                }

                int target = ((b & 0x3F) << 8) | packet[at + 1];
                if (next < 0)
                {
                    next = at + 2;
                }

                if (target >= at)
                {
                    return false; // pointers go back only, so they cannot loop
                }

                at = target;
                continue;
            }

            if ((b & 0xC0) != 0)
            {
                return false; // extended label types are not DNS names
            }

            if (b == 0)
            {
                if (next < 0)
                {
                    next = at + 1;
                }

                name = labels.ToString();
                return true;
            }

            if (at + 1 + b > packet.Length || (length += b + 1) > 255)
            {
                return false;
            }

            if (labels.Length > 0)
            {
                labels.Append('.');
            }

            labels.Append(Encoding.ASCII.GetString(packet.Slice(at + 1, b)));
            at += 1 + b;
        }
    }

    /// <summary>Writes a name as uncompressed labels; returns the bytes written.</summary>
    public static int WriteName(Span<byte> destination, string name)
    {
        int at = 0;
        foreach (string label in name.Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            destination[at++] = (byte)label.Length;
            at += Encoding.ASCII.GetBytes(label, destination[at..]);
        }

        destination[at++] = 0;
        return at;
    }

    public static void WriteHeader(Span<byte> d, ushort id, ushort flags, int questions, int answers)
    {
        BinaryPrimitives.WriteUInt16BigEndian(d, id);
        BinaryPrimitives.WriteUInt16BigEndian(d[2..], flags);
        BinaryPrimitives.WriteUInt16BigEndian(d[4..], (ushort)questions);
        BinaryPrimitives.WriteUInt16BigEndian(d[6..], (ushort)answers);
        BinaryPrimitives.WriteUInt32BigEndian(d[8..], 0);
    }
}
