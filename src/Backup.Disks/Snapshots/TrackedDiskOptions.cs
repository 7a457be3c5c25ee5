namespace Backup.Disks.Snapshots;

/// <summary>How <see cref="TrackedDisk.Open"/> tracks changes and where it keeps its state.</summary>
public sealed class TrackedDiskOptions
{
    /// <summary>The default block size for change tracking and copy-before-write: 64 KiB.</summary>
    public const int DefaultGranularity = 64 * 1024;

    /// <summary>Smallest allowed granularity (one sector).</summary>
    public const int MinGranularity = 512;

    /// <summary>Largest allowed granularity (64 MiB).</summary>
    public const int MaxGranularity = 64 * 1024 * 1024;

    /// <summary>
    /// Bytes per tracked block, a power of two between <see cref="MinGranularity"/> and <see cref="MaxGranularity"/>.
    /// It is both the changed-block bitmap's resolution and the copy-before-write unit. Changing it makes the existing
    /// sidecar untrusted (one full backup).
    /// </summary>
    public int Granularity { get; init; } = DefaultGranularity;

    /// <summary>The sidecar file holding the bitmap. Default: the image path plus <c>.cbt</c> (required when the image path is unknown).</summary>
    public string? SidecarPath { get; init; }

    /// <summary>
    /// The image file whose size and modification time are recorded at clean close and checked at open, to notice
    /// writes made behind the tracker's back. Default: <see cref="BlockDevices.RawFileDisk.Path"/> when the disk is a raw file; otherwise no check.
    /// </summary>
    public string? ImagePath { get; init; }

    /// <summary>Folder for snapshots' copy-before-write side stores. Default: the sidecar's folder. Created if missing.</summary>
    public string? SideStoreDirectory { get; init; }

    /// <summary>When true, disposing the tracked disk does not dispose the wrapped device.</summary>
    public bool LeaveInnerOpen { get; init; }

    /// <summary>
    /// Whether the wrapped device tolerates a snapshot reader on another thread while the VM thread reads and writes.
    /// Null (default): true for <see cref="BlockDevices.RawFileDisk"/> (positional file I/O), false otherwise, in which
    /// case every access to the wrapped device is serialised by a lock.
    /// </summary>
    public bool? InnerSupportsConcurrentAccess { get; init; }
}
