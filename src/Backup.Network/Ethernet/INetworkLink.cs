namespace Backup.Network.Ethernet;

/// <summary>
/// The network end a NIC is plugged into (a virtual switch's port): frames out with <see cref="Transmit"/>, frames in
/// with <see cref="TryReceive"/>. Incoming frames wait in a bounded queue owned by the link; when one is queued while
/// the queue was empty the link calls the notifier (from any thread, never re-entrantly from <see cref="Transmit"/> of
/// the same link), and the NIC drains the queue on its own thread. The NIC says which offloads it accepts
/// (<see cref="AcceptedOffloads"/>); frames it cannot take are finished (checksummed, segmented) before they reach
/// its queue. Nothing a sender passes can make the link throw: bad frames are dropped and counted.
/// </summary>
public interface INetworkLink : IDisposable
{
    /// <summary>True while the link carries frames (a disposed link, or a deleted network, is down).</summary>
    bool IsUp { get; }

    /// <summary>What the receiving NIC can complete itself; set before frames flow, may change when the guest renegotiates.</summary>
    OffloadCapabilities AcceptedOffloads { get; set; }

    /// <summary>
    /// Sends one frame (<see cref="FrameLimits"/>) into the network; the data is copied before this returns. Returns
    /// false when the frame was dropped (malformed, too large, spoofed source address, rate-limited, link down).
    /// </summary>
    bool Transmit(ReadOnlySpan<byte> frame, in FrameOffload offload);

    /// <summary>
    /// Takes the next queued frame if it fits <paramref name="destination"/>; false when the queue is empty. A queued
    /// frame larger than <paramref name="destination"/> stays queued and <paramref name="length"/> says its size.
    /// </summary>
    bool TryReceive(Span<byte> destination, out int length, out FrameOffload offload);

    /// <summary>Length of the next queued frame, or 0 when none waits.</summary>
    int PeekLength();

    /// <summary>Sets the callback run when a frame arrives on an empty queue (or the link changes state).</summary>
    void SetNotifier(Action? notify);
}
