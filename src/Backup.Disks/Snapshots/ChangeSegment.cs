using Backup.Disks.ChangeTracking;

namespace Backup.Disks.Snapshots;

/// <summary>
/// The blocks written between the previous snapshot cut and the cut of <see cref="Owner"/>, kept until a backup at or after
/// that cut completes. Guarded by the tracked disk's gate.
/// </summary>
internal sealed class ChangeSegment(long generation, BlockBitmap bits, DiskSnapshot owner)
{
    public long Generation { get; } = generation;

    public BlockBitmap Bits { get; } = bits;

    public DiskSnapshot Owner { get; } = owner;
}
