using System.Buffers.Binary;

namespace Backup.Hypervisor.Tests.Realistic;

/// <summary>
/// An independent host-side implementation of the realistic guest's row definition (docs/guest.md, "Row definition";
/// the guest's is appliance/guest/realistic/src/rowdef.h): the payload is a pure function of the sequence number
/// (splitmix64), the checksum FNV-1a 64 over the little-endian seq followed by the payload.
/// </summary>
public static class WorkloadRow
{
    public const int PayloadMin = 64;
    public const int PayloadMax = 512;
    private const ulong FnvOffset = 0xcbf29ce484222325UL;
    private const ulong FnvPrime = 0x100000001b3UL;

    public static byte[] Payload(long seq)
    {
        ulong x = unchecked((ulong)seq);
        int length = PayloadMin + (int)(SplitMix64(ref x) % (PayloadMax - PayloadMin + 1));
        var payload = new byte[length];
        Span<byte> word = stackalloc byte[8];
        for (int i = 0; i < length; i += 8)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(word, SplitMix64(ref x));
            word[..Math.Min(8, length - i)].CopyTo(payload.AsSpan(i));
        }

        return payload;
    }

    public static ulong Checksum(long seq, ReadOnlySpan<byte> payload)
    {
        Span<byte> seqBytes = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(seqBytes, seq);
        ulong h = FnvOffset;
        foreach (byte b in seqBytes)
        {
            h = unchecked((h ^ b) * FnvPrime);
        }

        foreach (byte b in payload)
        {
            h = unchecked((h ^ b) * FnvPrime);
        }

        return h;
    }

    /// <summary>The checksum as the guest stores it: a SQLite INTEGER with the same bit pattern.</summary>
    public static long StoredChecksum(long seq, ReadOnlySpan<byte> payload) => unchecked((long)Checksum(seq, payload));

    private static ulong SplitMix64(ref ulong x)
    {
        ulong z = x = unchecked(x + 0x9e3779b97f4a7c15UL);
        z = unchecked((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94d049bb133111ebUL);
        return z ^ (z >> 31);
    }
}
