namespace Backup.Network.Ethernet;

/// <summary>
/// Work a frame's sender left to the receiver, as virtio-net's header describes it (virtio 1.x section 5.1.6): a
/// partial checksum to complete (<see cref="NeedsChecksum"/>: the 16-bit ones'-complement sum from
/// <see cref="ChecksumStart"/> to the end, stored at ChecksumStart + <see cref="ChecksumOffset"/>) and/or a TCP
/// super-frame to cut into segments of <see cref="SegmentSize"/> payload bytes (<see cref="Segmentation"/>, with
/// <see cref="HeaderLength"/> bytes of Ethernet+IP+TCP headers). <see cref="None"/> is a finished frame.
/// </summary>
public readonly record struct FrameOffload(
    bool NeedsChecksum,
    ushort ChecksumStart,
    ushort ChecksumOffset,
    SegmentationKind Segmentation,
    ushort SegmentSize,
    ushort HeaderLength)
{
    /// <summary>A finished frame: nothing left to do.</summary>
    public static FrameOffload None => default;

    /// <summary>True when the frame is finished (no checksum to complete, no segmentation).</summary>
    public bool IsNone => !NeedsChecksum && Segmentation == SegmentationKind.None;
}
