using Backup.Disks.BlockDevices;

namespace Backup.Repository.Tests.Support;

/// <summary>A read-only disk over a byte array that records every read (offset, length).</summary>
public sealed class CountingBlockDevice(byte[] content) : IBlockDevice
{
    private readonly List<(long Offset, int Length)> _reads = [];

    public long Length => content.Length;

    public bool IsReadOnly => true;

    public IReadOnlyList<(long Offset, int Length)> Reads
    {
        get
        {
            lock (_reads)
            {
                return _reads.ToArray();
            }
        }
    }

    public long BytesRead => Reads.Sum(read => (long)read.Length);

    public void Read(long offset, Span<byte> buffer)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(offset + buffer.Length, content.Length);
        lock (_reads)
        {
            _reads.Add((offset, buffer.Length));
        }

        content.AsSpan((int)offset, buffer.Length).CopyTo(buffer);
    }

    public void Write(long offset, ReadOnlySpan<byte> buffer) => throw new InvalidOperationException("read-only test disk");

    public void Flush()
    {
    }

    public void Dispose()
    {
    }
}
