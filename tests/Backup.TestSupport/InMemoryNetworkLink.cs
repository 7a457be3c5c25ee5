using Backup.Network.Ethernet;

namespace Backup.TestSupport;

/// <summary>
/// One end of an <see cref="InMemoryLinkPair"/>: a real <see cref="INetworkLink"/> whose transmitted frames land in
/// the other end's bounded queue (at most <see cref="InMemoryLinkPair.QueueFrames"/> frames and
/// <see cref="InMemoryLinkPair.QueueBytes"/> bytes; the excess is dropped and counted). It checks frames against
/// <see cref="FrameLimits"/> and passes a frame's offload through only when the receiving end accepts it: unlike the
/// appliance's switch it never finishes (checksums, segments) a frame, so a mismatch is a counted drop.
/// </summary>
public sealed class InMemoryNetworkLink : INetworkLink
{
    private readonly InMemoryLinkPair _pair;
    private readonly Queue<(byte[] Frame, FrameOffload Offload)> _queue = new();
    private readonly object _gate = new();
    private long _queuedBytes;
    private Action? _notify;
    private OffloadCapabilities _accepted;
    private long _dropped;
    private long _delivered;

    internal InMemoryNetworkLink(InMemoryLinkPair pair) => _pair = pair;

    internal InMemoryNetworkLink Peer { get; set; } = null!;

    /// <inheritdoc />
    public bool IsUp => _pair.IsUp && !_pair.IsDisposed;

    /// <summary>When set, <see cref="AcceptedOffloads"/> reads this whatever the NIC asked for (the NIC's request is in <see cref="RequestedOffloads"/>).</summary>
    public OffloadCapabilities? ForcedOffloads { get; set; }

    /// <summary>What the NIC last set <see cref="AcceptedOffloads"/> to.</summary>
    public OffloadCapabilities RequestedOffloads => _accepted;

    /// <inheritdoc />
    public OffloadCapabilities AcceptedOffloads
    {
        get => ForcedOffloads ?? _accepted;
        set => _accepted = value;
    }

    /// <summary>Frames this end sent that were dropped (link down, bad length, offload the peer does not accept, peer's queue full).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Frames this end sent that reached the peer's queue.</summary>
    public long Delivered => Interlocked.Read(ref _delivered);

    /// <summary>Frames waiting in this end's receive queue.</summary>
    public int QueuedFrames
    {
        get
        {
            lock (_gate)
            {
                return _queue.Count;
            }
        }
    }

    /// <inheritdoc />
    public bool Transmit(ReadOnlySpan<byte> frame, in FrameOffload offload)
    {
        int limit = offload.Segmentation == SegmentationKind.None ? FrameLimits.MaximumLength : FrameLimits.MaximumSuperFrameLength;
        if (!IsUp || frame.Length < FrameLimits.MinimumLength || frame.Length > limit || !Peer.Accepts(offload))
        {
            Interlocked.Increment(ref _dropped);
            return false;
        }

        if (!Peer.Enqueue(frame.ToArray(), offload))
        {
            Interlocked.Increment(ref _dropped);
            return false;
        }

        Interlocked.Increment(ref _delivered);
        return true;
    }

    /// <inheritdoc />
    public bool TryReceive(Span<byte> destination, out int length, out FrameOffload offload)
    {
        lock (_gate)
        {
            offload = FrameOffload.None;
            if (!_queue.TryPeek(out var next))
            {
                length = 0;
                return false;
            }

            length = next.Frame.Length;
            if (length > destination.Length)
            {
                return false;
            }

            _queue.Dequeue();
            _queuedBytes -= length;
            next.Frame.CopyTo(destination);
            offload = next.Offload;
            return true;
        }
    }

    /// <inheritdoc />
    public int PeekLength()
    {
        lock (_gate)
        {
            return _queue.TryPeek(out var next) ? next.Frame.Length : 0;
        }
    }

    /// <inheritdoc />
    public void SetNotifier(Action? notify) => Volatile.Write(ref _notify, notify);

    /// <summary>Disposes the whole pair: both ends go down.</summary>
    public void Dispose() => _pair.Dispose();

    internal void Notify() => Volatile.Read(ref _notify)?.Invoke();

    private bool Accepts(in FrameOffload offload)
    {
        var accepted = AcceptedOffloads;
        bool checksum = !offload.NeedsChecksum || (accepted & OffloadCapabilities.Checksum) != 0;
        return checksum && offload.Segmentation switch
        {
            SegmentationKind.None => true,
            SegmentationKind.TcpV4 => (accepted & OffloadCapabilities.TcpV4Segmentation) != 0,
            SegmentationKind.TcpV6 => (accepted & OffloadCapabilities.TcpV6Segmentation) != 0,
            _ => false,
        };
    }

    private bool Enqueue(byte[] frame, FrameOffload offload)
    {
        bool wasEmpty;
        lock (_gate)
        {
            if (_queue.Count >= _pair.QueueFrames || _queuedBytes + frame.Length > _pair.QueueBytes)
            {
                return false;
            }

            wasEmpty = _queue.Count == 0;
            _queue.Enqueue((frame, offload));
            _queuedBytes += frame.Length;
        }

        if (wasEmpty)
        {
            Notify();
        }

        return true;
    }

    internal void Clear()
    {
        lock (_gate)
        {
            _queue.Clear();
            _queuedBytes = 0;
        }
    }
}
