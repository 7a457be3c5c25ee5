namespace Backup.Network.Tcp;

/// <summary>A fixed-capacity FIFO of bytes (a TCP send or receive buffer). Not thread-safe: its owner locks.</summary>
internal sealed class ByteRing(int capacity)
{
    private readonly byte[] _buffer = new byte[capacity];
    private int _head;

    public int Count { get; private set; }

    public int Capacity => _buffer.Length;

    public int Free => _buffer.Length - Count;

    /// <summary>Appends as much of <paramref name="data"/> as fits; returns how much.</summary>
    public int Write(ReadOnlySpan<byte> data)
    {
        int n = Math.Min(data.Length, Free);
        int tail = (_head + Count) % _buffer.Length;
        int first = Math.Min(n, _buffer.Length - tail);
        data[..first].CopyTo(_buffer.AsSpan(tail));
        data[first..n].CopyTo(_buffer);
        Count += n;
        return n;
    }

    /// <summary>Copies bytes from <paramref name="offset"/> past the head without removing them.</summary>
    public void Peek(int offset, Span<byte> destination)
    {
        if (offset < 0 || offset + destination.Length > Count)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"{destination.Length} bytes at {offset} exceed the {Count} buffered");
        }

        int start = (_head + offset) % _buffer.Length;
        int first = Math.Min(destination.Length, _buffer.Length - start);
        _buffer.AsSpan(start, first).CopyTo(destination);
        _buffer.AsSpan(0, destination.Length - first).CopyTo(destination[first..]);
    }

    /// <summary>Removes up to <paramref name="destination"/>.Length bytes from the head into it; returns how many.</summary>
    public int Read(Span<byte> destination)
    {
        int n = Math.Min(destination.Length, Count);
        Peek(0, destination[..n]);
        Discard(n);
        return n;
    }

    /// <summary>Removes <paramref name="count"/> bytes from the head.</summary>
    public void Discard(int count)
    {
        count = Math.Min(count, Count);
        _head = (_head + count) % _buffer.Length;
        Count -= count;
        if (Count == 0)
        {
            _head = 0;
        }
    }
}
