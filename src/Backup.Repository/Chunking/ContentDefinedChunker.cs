using System.Buffers.Binary;
using System.Numerics;
using System.Security.Cryptography;

namespace Backup.Repository.Chunking;

/// <summary>
/// Content-defined chunking for streams (format §9): a gear rolling hash <c>h = (h &lt;&lt; 1) + gear[b]</c> with
/// normalized chunking — a strict mask before the average size, a loose one after — between a minimum and a
/// maximum length. The gear table is derived from the repository's chunker key, so chunk lengths do not
/// fingerprint known content. Instances are immutable and thread-safe.
/// </summary>
public sealed class ContentDefinedChunker
{
    private readonly ulong[] _gear = new ulong[256];
    private readonly ulong _strictMask;
    private readonly ulong _looseMask;

    public ContentDefinedChunker(ReadOnlySpan<byte> chunkerKey, int minimum, int average, int maximum)
    {
        if (minimum < 64 || average <= minimum || maximum <= average || !BitOperations.IsPow2(average))
        {
            throw new ArgumentException($"chunk sizes min {minimum}, average {average}, max {maximum} are invalid: need 64 <= min < average < max and average a power of two");
        }

        Minimum = minimum;
        Average = average;
        Maximum = maximum;
        var bits = BitOperations.Log2((uint)average);
        _strictMask = TopBits(bits + 2);
        _looseMask = TopBits(bits - 2);

        Span<byte> block = stackalloc byte[32];
        Span<byte> label = stackalloc byte[6];
        "gear"u8.CopyTo(label);
        for (var i = 0; i < 64; i++)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(label[4..], (ushort)i);
            HMACSHA256.HashData(chunkerKey, label, block);
            for (var j = 0; j < 4; j++)
            {
                _gear[(i * 4) + j] = BinaryPrimitives.ReadUInt64LittleEndian(block[(j * 8)..]);
            }
        }
    }

    public int Minimum { get; }

    public int Average { get; }

    public int Maximum { get; }

    /// <summary>
    /// Length of the chunk that starts at the beginning of <paramref name="data"/>. Pass at least
    /// <see cref="Maximum"/> bytes unless <paramref name="data"/> is the end of the stream.
    /// </summary>
    public int NextChunkLength(ReadOnlySpan<byte> data)
    {
        if (data.Length <= Minimum)
        {
            return data.Length;
        }

        var end = Math.Min(data.Length, Maximum);
        var normal = Math.Min(end, Average);
        ulong hash = 0;
        var gear = _gear;
        var i = Minimum - 64;
        for (; i < Minimum; i++)
        {
            hash = (hash << 1) + gear[data[i]];
        }

        for (; i < normal; i++)
        {
            hash = (hash << 1) + gear[data[i]];
            if ((hash & _strictMask) == 0)
            {
                return i + 1;
            }
        }

        for (; i < end; i++)
        {
            hash = (hash << 1) + gear[data[i]];
            if ((hash & _looseMask) == 0)
            {
                return i + 1;
            }
        }

        return end;
    }

    private static ulong TopBits(int count) => ulong.MaxValue << (64 - count);
}
