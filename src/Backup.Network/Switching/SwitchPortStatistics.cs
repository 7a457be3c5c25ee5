namespace Backup.Network.Switching;

/// <summary>
/// Counters of one switch port. "Sent" is what the NIC behind the port sent into the switch, "queued" what the switch
/// put in the port's queue for the NIC, "received" what the NIC took from it. Read at any time from any thread.
/// </summary>
public sealed class SwitchPortStatistics
{
    internal long _framesSent;
    internal long _bytesSent;
    internal long _framesQueued;
    internal long _bytesQueued;
    internal long _framesReceived;
    internal long _droppedMalformed;
    internal long _droppedOversized;
    internal long _droppedSpoofed;
    internal long _droppedBroadcastRate;
    internal long _droppedArpRate;
    internal long _droppedQueueFull;
    internal long _droppedLinkDown;
    internal long _framesSegmented;
    internal long _checksumsCompleted;
    internal long _notifierFailures;

    /// <summary>Frames the NIC sent that the switch accepted.</summary>
    public long FramesSent => Interlocked.Read(ref _framesSent);

    /// <summary>Bytes of the frames in <see cref="FramesSent"/>.</summary>
    public long BytesSent => Interlocked.Read(ref _bytesSent);

    /// <summary>Frames put in this port's queue.</summary>
    public long FramesQueued => Interlocked.Read(ref _framesQueued);

    /// <summary>Bytes of the frames in <see cref="FramesQueued"/>.</summary>
    public long BytesQueued => Interlocked.Read(ref _bytesQueued);

    /// <summary>Frames the NIC took from the queue.</summary>
    public long FramesReceived => Interlocked.Read(ref _framesReceived);

    /// <summary>Frames from the NIC dropped as malformed (too short, inconsistent offload, multicast source).</summary>
    public long DroppedMalformed => Interlocked.Read(ref _droppedMalformed);

    /// <summary>Frames from the NIC dropped as larger than <see cref="Ethernet.FrameLimits"/> allows.</summary>
    public long DroppedOversized => Interlocked.Read(ref _droppedOversized);

    /// <summary>Frames from the NIC whose source MAC was not the port's bound address.</summary>
    public long DroppedSpoofed => Interlocked.Read(ref _droppedSpoofed);

    /// <summary>Broadcast or multicast frames from the NIC over the port's rate.</summary>
    public long DroppedBroadcastRateLimited => Interlocked.Read(ref _droppedBroadcastRate);

    /// <summary>ARP frames from the NIC over the port's rate.</summary>
    public long DroppedArpRateLimited => Interlocked.Read(ref _droppedArpRate);

    /// <summary>Frames for this port dropped because its queue was full (frames or bytes).</summary>
    public long DroppedQueueFull => Interlocked.Read(ref _droppedQueueFull);

    /// <summary>Frames sent while the port was down.</summary>
    public long DroppedLinkDown => Interlocked.Read(ref _droppedLinkDown);

    /// <summary>Super-frames the switch cut into segments for this port.</summary>
    public long FramesSegmented => Interlocked.Read(ref _framesSegmented);

    /// <summary>Partial checksums the switch completed for this port.</summary>
    public long ChecksumsCompleted => Interlocked.Read(ref _checksumsCompleted);

    /// <summary>Times this port's notifier threw (the frame stayed queued).</summary>
    public long NotifierFailures => Interlocked.Read(ref _notifierFailures);

    /// <inheritdoc />
    public override string ToString() =>
        $"sent {FramesSent} ({BytesSent} B), queued {FramesQueued} ({BytesQueued} B), received {FramesReceived}; dropped: malformed {DroppedMalformed}, oversized {DroppedOversized}, spoofed {DroppedSpoofed}, broadcast-rate {DroppedBroadcastRateLimited}, arp-rate {DroppedArpRateLimited}, queue-full {DroppedQueueFull}, link-down {DroppedLinkDown}";
}
