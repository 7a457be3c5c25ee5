namespace Backup.Disks.ChangeTracking;

/// <summary>A byte range of a disk: <see cref="Length"/> bytes starting at <see cref="Offset"/>.</summary>
/// <param name="Offset">First byte.</param>
/// <param name="Length">Number of bytes.</param>
public readonly record struct DiskExtent(long Offset, long Length)
{
    /// <summary>One past the last byte.</summary>
    public long End => Offset + Length;
}
