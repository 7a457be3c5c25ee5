using System.Buffers.Binary;
using System.Numerics;

namespace Backup.Disks.ChangeTracking;

/// <summary>
/// A fixed-size set of block numbers. Not thread-safe: owners serialise access.
/// Serialised form: bit <c>i</c> is bit <c>i % 8</c> (least significant first) of byte <c>i / 8</c>.
/// </summary>
internal sealed class BlockBitmap
{
    private readonly ulong[] _words;

    public BlockBitmap(long blockCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(blockCount);
        BlockCount = blockCount;
        _words = new ulong[(blockCount + 63) / 64];
    }

    public long BlockCount { get; }

    /// <summary>Bytes of the serialised form.</summary>
    public long ByteLength => ByteLengthFor(BlockCount);

    public static long ByteLengthFor(long blockCount) => (blockCount + 7) / 8;

    public bool Get(long block) => (_words[block >> 6] & (1UL << (int)(block & 63))) != 0;

    /// <summary>Sets blocks <paramref name="first"/> through <paramref name="last"/> inclusive.</summary>
    public void SetRange(long first, long last)
    {
        for (long b = first; b <= last; b++)
        {
            _words[b >> 6] |= 1UL << (int)(b & 63);
        }
    }

    public void SetAll()
    {
        Array.Fill(_words, ulong.MaxValue);
        ClearTail();
    }

    public void Clear() => Array.Clear(_words);

    public void UnionWith(BlockBitmap other)
    {
        if (other.BlockCount != BlockCount)
        {
            throw new ArgumentException("bitmaps of different sizes", nameof(other));
        }

        for (int i = 0; i < _words.Length; i++)
        {
            _words[i] |= other._words[i];
        }
    }

    public BlockBitmap Clone()
    {
        var copy = new BlockBitmap(BlockCount);
        Array.Copy(_words, copy._words, _words.Length);
        return copy;
    }

    public long CountSet()
    {
        long n = 0;
        foreach (ulong w in _words)
        {
            n += BitOperations.PopCount(w);
        }

        return n;
    }

    /// <summary>Runs of set blocks as (first block, count), in ascending order.</summary>
    public IEnumerable<(long First, long Count)> Runs()
    {
        long b = 0;
        while (b < BlockCount)
        {
            b = NextSet(b);
            if (b < 0)
            {
                yield break;
            }

            long start = b;
            while (b < BlockCount && Get(b))
            {
                b++;
            }

            yield return (start, b - start);
        }
    }

    public void WriteTo(Span<byte> destination)
    {
        long bytes = ByteLength;
        for (long i = 0; i < bytes; i++)
        {
            destination[(int)i] = (byte)(_words[i >> 3] >> (int)((i & 7) * 8));
        }
    }

    /// <summary>Loads the serialised form; returns null when bits beyond <paramref name="blockCount"/> are set (corrupt).</summary>
    public static BlockBitmap? TryRead(ReadOnlySpan<byte> source, long blockCount)
    {
        var map = new BlockBitmap(blockCount);
        if (source.Length != map.ByteLength)
        {
            return null;
        }

        int whole = source.Length / 8;
        for (int w = 0; w < whole; w++)
        {
            map._words[w] = BinaryPrimitives.ReadUInt64LittleEndian(source.Slice(w * 8, 8));
        }

        for (int i = whole * 8; i < source.Length; i++)
        {
            map._words[i >> 3] |= (ulong)source[i] << ((i & 7) * 8);
        }

        ulong[] check = (ulong[])map._words.Clone();
        map.ClearTail();
        return check.AsSpan().SequenceEqual(map._words) ? map : null;
    }

    private long NextSet(long from)
    {
        long w = from >> 6;
        if (w >= _words.Length)
        {
            return -1;
        }

        ulong word = _words[w] & (ulong.MaxValue << (int)(from & 63));
        while (true)
        {
            if (word != 0)
            {
                long b = (w << 6) + BitOperations.TrailingZeroCount(word);
                return b < BlockCount ? b : -1;
            }

            if (++w >= _words.Length)
            {
                return -1;
            }

            word = _words[w];
        }
    }

    private void ClearTail()
    {
        int rem = (int)(BlockCount & 63);
        if (rem != 0)
        {
            _words[^1] &= (1UL << rem) - 1;
        }
    }
}
