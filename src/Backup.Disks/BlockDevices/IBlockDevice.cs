namespace Backup.Disks.BlockDevices;

/// <summary>
/// A randomly addressable disk: the one contract every disk format, overlay and restore-point view offers
/// to the hypervisor's virtio-blk device and to the backup engine.
/// Offsets and lengths are in bytes; callers keep requests inside <see cref="Length"/>.
/// Implementations must be safe for one reader/writer thread at a time (a VM's own thread).
/// </summary>
public interface IBlockDevice : IDisposable
{
    /// <summary>Size of the disk in bytes.</summary>
    long Length { get; }

    /// <summary>True when writes are refused.</summary>
    bool IsReadOnly { get; }

    /// <summary>Reads <paramref name="buffer"/>.Length bytes at <paramref name="offset"/>.</summary>
    void Read(long offset, Span<byte> buffer);

    /// <summary>Writes the buffer at <paramref name="offset"/>. Throws <see cref="InvalidOperationException"/> when read-only.</summary>
    void Write(long offset, ReadOnlySpan<byte> buffer);

    /// <summary>Makes every completed write durable.</summary>
    void Flush();
}
