using System.Globalization;
using Backup.Disks.ChangeTracking;

namespace Backup.Repository.Writing;

/// <summary>
/// What changed on a disk since a restore point that holds it (from the hypervisor's changed-block tracking), and the
/// tracking tag to record on the new point so the next backup can tell whether its changes are relative to it.
/// Given to <see cref="RestorePointWriter.AddDiskAsync(string, Backup.Disks.BlockDevices.IBlockDevice, DiskChanges?, IProgress{long}?, CancellationToken)"/>:
/// when <see cref="BasePointId"/> is a readable point of the same VM holding a disk of the same name, length and chunk
/// size, only the chunks overlapping <see cref="ChangedExtents"/> are read; the others reuse the base's chunks unread.
/// </summary>
public sealed record DiskChanges
{
    /// <summary>Longest accepted <see cref="TrackingTag"/>.</summary>
    public const int MaxTrackingTagLength = 256;

    /// <summary>
    /// Changes relative to <paramref name="basePointId"/> (null: there is no base, read everything), recording
    /// <paramref name="trackingTag"/> (optional, at most 256 printable characters) on the new point.
    /// </summary>
    public DiskChanges(string? basePointId, IEnumerable<DiskExtent> changedExtents, string? trackingTag)
    {
        ArgumentNullException.ThrowIfNull(changedExtents);
        if (basePointId is not null && basePointId.Length == 0)
        {
            throw new ArgumentException("the base restore point id is empty (pass null when there is no base)", nameof(basePointId));
        }

        ValidateTag(trackingTag);
        var extents = changedExtents.ToArray();
        foreach (var extent in extents)
        {
            if (extent.Offset < 0 || extent.Length < 0 || extent.Offset > long.MaxValue - extent.Length)
            {
                throw new ArgumentOutOfRangeException(nameof(changedExtents), $"changed extent at {extent.Offset} of {extent.Length} bytes is not a valid byte range");
            }
        }

        BasePointId = basePointId;
        ChangedExtents = extents;
        TrackingTag = trackingTag;
    }

    /// <summary>The restore point the changes are relative to; null when there is none (the whole disk is read).</summary>
    public string? BasePointId { get; }

    /// <summary>The bytes that may differ from the base point's disk (any order; overlaps allowed).</summary>
    public IReadOnlyList<DiskExtent> ChangedExtents { get; }

    /// <summary>Opaque tag recorded on the new point's disk (for example "&lt;tracking id&gt;:&lt;generation&gt;").</summary>
    public string? TrackingTag { get; }

    /// <summary>
    /// When set, change tracking could not say what changed (every block counts as changed): the whole disk is read and
    /// this is reported as the reason.
    /// </summary>
    public string? AllChangedReason { get; init; }

    /// <summary>
    /// Changes from a hypervisor changed-block map. The tag defaults to <c>"&lt;tracking id&gt;:&lt;generation&gt;"</c>
    /// (<see cref="TrackingTagOf"/>). When the map reports every block (untrusted tracking) the whole disk is read and
    /// the map's reason is reported.
    /// </summary>
    public static DiskChanges FromChangedBlockMap(string? basePointId, ChangedBlockMap map, string? trackingTag = null)
    {
        ArgumentNullException.ThrowIfNull(map);
        var tag = trackingTag ?? TrackingTagOf(map.TrackingId, map.Generation);
        return map.AllBlocks
            ? new DiskChanges(basePointId, [], tag) { AllChangedReason = map.Reason ?? "change tracking reports every block changed" }
            : new DiskChanges(basePointId, map.ChangedExtents(), tag);
    }

    /// <summary>The conventional tag of a tracking history at a generation: <c>"&lt;id, 32 hex&gt;:&lt;generation&gt;"</c>.</summary>
    public static string TrackingTagOf(Guid trackingId, long generation) =>
        trackingId.ToString("N") + ":" + generation.ToString(CultureInfo.InvariantCulture);

    internal static void ValidateTag(string? tag)
    {
        if (tag is null)
        {
            return;
        }

        if (tag.Length == 0 || tag.Length > MaxTrackingTagLength)
        {
            throw new ArgumentException($"tracking tag must be 1 to {MaxTrackingTagLength} characters long (got {tag.Length})", nameof(tag));
        }

        if (tag.Any(char.IsControl))
        {
            throw new ArgumentException("tracking tag contains control characters", nameof(tag));
        }
    }
}
