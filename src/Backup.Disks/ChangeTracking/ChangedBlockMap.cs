namespace Backup.Disks.ChangeTracking;

/// <summary>
/// The blocks of a disk that changed between the last completed backup (<see cref="SinceGeneration"/>) and a snapshot's
/// cut (<see cref="Generation"/>), at <see cref="Granularity"/>-byte blocks. Immutable.
/// When change tracking could not be trusted, <see cref="AllBlocks"/> is true, every block counts as changed and
/// <see cref="Reason"/> says why: the backup must read the whole disk.
/// </summary>
/// <remarks>
/// A backup engine may read only the changed blocks when its last backup of this disk recorded
/// (<see cref="TrackingId"/>, <see cref="SinceGeneration"/>) and <see cref="AllBlocks"/> is false; otherwise it must read everything.
/// </remarks>
public sealed class ChangedBlockMap
{
    private readonly BlockBitmap? _bits;

    internal ChangedBlockMap(long diskLength, int granularity, Guid trackingId, long sinceGeneration, long generation,
        BlockBitmap? bits, string? allBlocksReason)
    {
        DiskLength = diskLength;
        Granularity = granularity;
        BlockCount = (diskLength + granularity - 1) / granularity;
        TrackingId = trackingId;
        SinceGeneration = sinceGeneration;
        Generation = generation;
        _bits = allBlocksReason is null ? bits ?? throw new ArgumentNullException(nameof(bits)) : null;
        Reason = allBlocksReason;
        ChangedBlockCount = _bits?.CountSet() ?? BlockCount;
    }

    /// <summary>Size of the disk in bytes.</summary>
    public long DiskLength { get; }

    /// <summary>Bytes per block (a power of two); the last block may be shorter.</summary>
    public int Granularity { get; }

    /// <summary>Number of blocks covering the disk.</summary>
    public long BlockCount { get; }

    /// <summary>Identifies the change-tracking history (one per sidecar lifetime); a new id means history was lost.</summary>
    public Guid TrackingId { get; }

    /// <summary>The generation of the last completed backup these changes are relative to (0: none yet).</summary>
    public long SinceGeneration { get; }

    /// <summary>The generation of the snapshot this map belongs to; pass to the backup record as the new base.</summary>
    public long Generation { get; }

    /// <summary>True when tracking was untrusted: every block must be read. <see cref="Reason"/> says why.</summary>
    public bool AllBlocks => _bits is null;

    /// <summary>Why every block is reported (null when the map is exact).</summary>
    public string? Reason { get; }

    /// <summary>Number of changed blocks (all of them when <see cref="AllBlocks"/>).</summary>
    public long ChangedBlockCount { get; }

    /// <summary>True when block <paramref name="block"/> may have changed.</summary>
    public bool IsChanged(long block)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(block);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(block, BlockCount);
        return _bits?.Get(block) ?? true;
    }

    /// <summary>The byte range of block <paramref name="block"/> (the last one is clipped to the disk).</summary>
    public DiskExtent BlockExtent(long block)
    {
        long start = block * Granularity;
        return new DiskExtent(start, Math.Min(Granularity, DiskLength - start));
    }

    /// <summary>The changed bytes as ascending, non-adjacent extents (adjacent changed blocks are merged).</summary>
    public IEnumerable<DiskExtent> ChangedExtents()
    {
        if (_bits is null)
        {
            if (DiskLength > 0)
            {
                yield return new DiskExtent(0, DiskLength);
            }

            yield break;
        }

        foreach ((long first, long count) in _bits.Runs())
        {
            long start = first * Granularity;
            long end = Math.Min((first + count) * Granularity, DiskLength);
            yield return new DiskExtent(start, end - start);
        }
    }
}
