using System.Buffers;
using Backup.Network.Ethernet;

namespace Backup.Network.Switching;

/// <summary>
/// One port of a <see cref="VirtualSwitch"/>: the <see cref="INetworkLink"/> a NIC (or the appliance endpoint) plugs
/// into. Frames for the NIC wait in a queue bounded in frames and bytes (drop-tail, counted). A port bound to a MAC
/// address drops frames from any other source address. Thread-safe.
/// </summary>
public sealed class SwitchPort : INetworkLink, IFrameSink
{
    private readonly VirtualSwitch _switch;
    private readonly Queue<QueuedFrame> _queue = new();
    private readonly Lock _gate = new();
    private readonly int _maxFrames;
    private readonly int _maxBytes;
    private long _queuedBytes;
    private Action? _notify;
    private volatile bool _up = true;
    private volatile OffloadCapabilities _accepted;

    internal SwitchPort(VirtualSwitch owner, string name, MacAddress? boundMac, SwitchOptions options, TimeProvider time)
    {
        _switch = owner;
        Name = name;
        BoundMac = boundMac;
        _maxFrames = options.QueueFrames;
        _maxBytes = options.QueueBytes;
        BroadcastLimit = new TokenBucket(options.BroadcastPerSecond, options.BroadcastBurst, time);
        ArpLimit = new TokenBucket(options.ArpPerSecond, options.ArpBurst, time);
    }

    /// <summary>The port's name (the VM or endpoint behind it), for statistics and errors.</summary>
    public string Name { get; }

    /// <summary>When set, the only source address this port's frames may carry.</summary>
    public MacAddress? BoundMac { get; }

    /// <summary>The port's counters.</summary>
    public SwitchPortStatistics Statistics { get; } = new();

    /// <summary>Frames waiting for the NIC.</summary>
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

    /// <summary>Bytes waiting for the NIC.</summary>
    public long QueuedBytes => Interlocked.Read(ref _queuedBytes);

    internal TokenBucket BroadcastLimit { get; }

    internal TokenBucket ArpLimit { get; }

    /// <inheritdoc />
    public bool IsUp => _up;

    /// <inheritdoc />
    public OffloadCapabilities AcceptedOffloads
    {
        get => _accepted;
        set => _accepted = value;
    }

    /// <inheritdoc />
    public bool Transmit(ReadOnlySpan<byte> frame, in FrameOffload offload)
    {
        if (!_up)
        {
            Interlocked.Increment(ref Statistics._droppedLinkDown);
            return false;
        }

        try
        {
            return _switch.Forward(this, frame, offload);
        }
        catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException or InvalidOperationException)
        {
            // A frame that trips a parser is malformed; the link never throws at its sender.
            Interlocked.Increment(ref Statistics._droppedMalformed);
            return false;
        }
    }

    /// <inheritdoc />
    public bool TryReceive(Span<byte> destination, out int length, out FrameOffload offload)
    {
        QueuedFrame frame;
        lock (_gate)
        {
            if (!_queue.TryPeek(out frame))
            {
                length = 0;
                offload = FrameOffload.None;
                return false;
            }

            length = frame.Length;
            offload = frame.Offload;
            if (frame.Length > destination.Length)
            {
                return false;
            }

            _queue.Dequeue();
            _queuedBytes -= frame.Length;
        }

        frame.Buffer.AsSpan(0, frame.Length).CopyTo(destination);
        ArrayPool<byte>.Shared.Return(frame.Buffer);
        Interlocked.Increment(ref Statistics._framesReceived);
        return true;
    }

    /// <inheritdoc />
    public int PeekLength()
    {
        lock (_gate)
        {
            return _queue.TryPeek(out var frame) ? frame.Length : 0;
        }
    }

    /// <inheritdoc />
    public void SetNotifier(Action? notify)
    {
        lock (_gate)
        {
            _notify = notify;
        }
    }

    /// <summary>Takes the port down, empties its queue and removes it from its switch.</summary>
    public void Dispose()
    {
        if (!_up)
        {
            return;
        }

        _up = false;
        _switch.Remove(this);
        Action? notify;
        lock (_gate)
        {
            while (_queue.TryDequeue(out var frame))
            {
                ArrayPool<byte>.Shared.Return(frame.Buffer);
            }

            _queuedBytes = 0;
            notify = _notify;
        }

        Notify(notify);
    }

    /// <summary>Runs the receiver's notifier on the sender's thread; whatever it throws stays with the receiver.</summary>
    private void Notify(Action? notify)
    {
        try
        {
            notify?.Invoke();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // the frame is queued; a notifier that fails must not make another NIC's Transmit throw
            Interlocked.Increment(ref Statistics._notifierFailures);
        }
    }

    /// <summary>Delivers one frame to this port: finished first if the NIC cannot finish it, then queued.</summary>
    internal void Deliver(ReadOnlySpan<byte> frame, in FrameOffload offload)
    {
        if (!offload.IsNone && OffloadFinisher.NeedsFinishing(offload, _accepted))
        {
            if (offload.Segmentation != SegmentationKind.None)
            {
                Interlocked.Increment(ref Statistics._framesSegmented);
            }
            else
            {
                Interlocked.Increment(ref Statistics._checksumsCompleted);
            }

            if (!OffloadFinisher.Finish(frame, offload, this))
            {
                Interlocked.Increment(ref Statistics._droppedMalformed);
            }

            return;
        }

        Accept(frame, offload);
    }

    /// <summary>Queues a copy of a finished frame (drop-tail when full).</summary>
    bool IFrameSink.Accept(ReadOnlySpan<byte> frame, in FrameOffload offload) => Accept(frame, offload);

    /// <summary>Queues a finished frame whose rented buffer the port now owns.</summary>
    bool IFrameSink.TakeRented(byte[] buffer, int length) => Enqueue(buffer, length, FrameOffload.None);

    private bool Accept(ReadOnlySpan<byte> frame, in FrameOffload offload)
    {
        if (!_up)
        {
            return false;
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent(frame.Length);
        frame.CopyTo(buffer);
        return Enqueue(buffer, frame.Length, offload);
    }

    private bool Enqueue(byte[] buffer, int length, in FrameOffload offload)
    {
        Action? notify = null;
        lock (_gate)
        {
            if (!_up || _queue.Count >= _maxFrames || _queuedBytes + length > _maxBytes)
            {
                ArrayPool<byte>.Shared.Return(buffer);
                Interlocked.Increment(ref _up ? ref Statistics._droppedQueueFull : ref Statistics._droppedLinkDown);
                return false;
            }

            if (_queue.Count == 0)
            {
                notify = _notify;
            }

            _queue.Enqueue(new QueuedFrame(buffer, length, offload));
            _queuedBytes += length;
        }

        Interlocked.Increment(ref Statistics._framesQueued);
        Interlocked.Add(ref Statistics._bytesQueued, length);
        Notify(notify);
        return true;
    }

    private readonly record struct QueuedFrame(byte[] Buffer, int Length, FrameOffload Offload);
}
