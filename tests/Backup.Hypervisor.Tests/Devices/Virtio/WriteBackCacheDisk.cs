using Backup.Disks.BlockDevices;

namespace Backup.Hypervisor.Tests.Devices.Virtio;

/// <summary>
/// A disk with a volatile write-back cache in front of <see cref="Inner"/>, as a real drive has: writes land in
/// memory (reads see them) and reach the inner disk only on <see cref="Flush"/>. So data is in the inner disk's
/// file only if a flush got through. Counts flushes, logs every operation in order, and can be told to fail its
/// flushes (the cache then stays dirty, nothing is lost). Not thread-safe: one VM thread, as the contract says.
/// </summary>
public sealed class WriteBackCacheDisk(IBlockDevice inner) : IBlockDevice
{
    private const int SectorSize = 512;
    private readonly SortedDictionary<long, byte[]> _dirty = [];

    public IBlockDevice Inner { get; } = inner;

    public long Length => Inner.Length;

    public bool IsReadOnly => Inner.IsReadOnly;

    /// <summary>Flushes that wrote the cache back successfully.</summary>
    public int Flushes { get; private set; }

    /// <summary>Every operation in arrival order: "write S+N" (sector, sectors touched), "flush S,S..." (sectors written back) or "flush failed".</summary>
    public List<string> Log { get; } = [];

    /// <summary>When set, <see cref="Flush"/> throws it (after logging) and keeps the cache dirty.</summary>
    public Exception? FlushFailure { get; set; }

    /// <summary>Called at each successful flush with the sectors it wrote back, before it returns.</summary>
    public Action<IReadOnlyList<long>>? FlushObserver { get; set; }

    /// <summary>Sectors written but not yet flushed.</summary>
    public IReadOnlyCollection<long> DirtySectors => _dirty.Keys;

    public void Read(long offset, Span<byte> buffer)
    {
        Inner.Read(offset, buffer);
        foreach (var (sector, sectorOffset, bufferOffset, length) in Sectors(offset, buffer.Length))
        {
            if (_dirty.TryGetValue(sector, out var cached))
            {
                cached.AsSpan(sectorOffset, length).CopyTo(buffer.Slice(bufferOffset, length));
            }
        }
    }

    public void Write(long offset, ReadOnlySpan<byte> buffer)
    {
        if (IsReadOnly)
        {
            throw new InvalidOperationException("the disk is read-only");
        }

        foreach (var (sector, sectorOffset, bufferOffset, length) in Sectors(offset, buffer.Length))
        {
            if (!_dirty.TryGetValue(sector, out var cached))
            {
                cached = new byte[SectorSize];
                Inner.Read(sector * SectorSize, cached);
                _dirty[sector] = cached;
            }

            buffer.Slice(bufferOffset, length).CopyTo(cached.AsSpan(sectorOffset));
        }

        Log.Add($"write {offset / SectorSize}+{(buffer.Length + SectorSize - 1) / SectorSize}");
    }

    public void Flush()
    {
        if (FlushFailure is { } failure)
        {
            Log.Add("flush failed");
            throw failure;
        }

        var written = _dirty.Keys.ToList();
        foreach (var (sector, data) in _dirty)
        {
            Inner.Write(sector * SectorSize, data);
        }

        Inner.Flush();
        _dirty.Clear();
        Flushes++;
        Log.Add($"flush {string.Join(',', written)}");
        FlushObserver?.Invoke(written);
    }

    public void Dispose()
    {
        // The inner disk belongs to whoever created it.
    }

    /// <summary>The sectors [offset, offset+length) touches: sector, offset in it, offset in the buffer, bytes.</summary>
    private static IEnumerable<(long Sector, int SectorOffset, int BufferOffset, int Length)> Sectors(long offset, int length)
    {
        int done = 0;
        while (done < length)
        {
            long position = offset + done;
            long sector = position / SectorSize;
            int sectorOffset = (int)(position % SectorSize);
            int chunk = Math.Min(SectorSize - sectorOffset, length - done);
            yield return (sector, sectorOffset, done, chunk);
            done += chunk;
        }
    }
}
