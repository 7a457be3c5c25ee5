namespace Backup.Disks.ChangeTracking;

/// <summary>Everything a change-tracking sidecar holds (see docs/disk-state.md for the byte layout).</summary>
internal sealed record SidecarContents(
    bool InUse,
    int Granularity,
    long DiskLength,
    Guid TrackingId,
    long LastIssuedGeneration,
    long LastCompletedGeneration,
    long ImageLength,
    long ImageMtimeTicks,
    ChangeTrackingState State,
    BlockBitmap Bits);
