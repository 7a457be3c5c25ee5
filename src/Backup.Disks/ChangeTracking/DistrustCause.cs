namespace Backup.Disks.ChangeTracking;

/// <summary>Why a disk's changed-block bitmap cannot be trusted; <see cref="None"/> when it can.</summary>
public enum DistrustCause
{
    /// <summary>The bitmap covers every write since the last completed backup.</summary>
    None = 0,

    /// <summary>There was no sidecar: first use of change tracking on this disk, or the sidecar was deleted.</summary>
    SidecarMissing = 1,

    /// <summary>The sidecar was still marked "in use": the appliance or VM stopped without closing the disk cleanly.</summary>
    UncleanStop = 2,

    /// <summary>The sidecar is damaged (bad magic, truncated, checksum mismatch, impossible field values).</summary>
    SidecarCorrupt = 3,

    /// <summary>The sidecar was written by a format version this build does not know.</summary>
    UnsupportedVersion = 4,

    /// <summary>The sidecar was kept at a different tracking granularity than the one now configured.</summary>
    GranularityChanged = 5,

    /// <summary>The disk's size differs from the size recorded in the sidecar.</summary>
    DiskSizeChanged = 6,

    /// <summary>The image file's size or modification time changed after the last clean close (written behind our back).</summary>
    ImageModified = 7,
}
