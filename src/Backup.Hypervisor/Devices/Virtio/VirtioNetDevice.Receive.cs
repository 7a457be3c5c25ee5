using Backup.Network.Ethernet;

namespace Backup.Hypervisor.Devices.Virtio;

/// <summary>
/// The receive queue: frames taken from the link into the driver's posted buffers, one chain per frame, or with
/// MRG_RXBUF as many chains as the frame needs (num_buffers). A frame stays on the link until buffers for it exist.
/// </summary>
public sealed partial class VirtioNetDevice
{
    /// <summary>Guest errors logged in full; past this only every 1024th is (the counters still count every one).</summary>
    private const int ReportedErrorsInFull = 16;

    private readonly List<VirtqueueChain> _receiveChains = [];
    private long _framesReceived;
    private long _bytesReceived;
    private long _receiveTooLarge;
    private long _receiveNotNegotiated;
    private long _receiveMalformedBuffers;
    private long _guestErrors;

    /// <summary>Frames delivered to the guest.</summary>
    public long FramesReceived => Volatile.Read(ref _framesReceived);

    /// <summary>Bytes (Ethernet frames, without the virtio header) of <see cref="FramesReceived"/>.</summary>
    public long BytesReceived => Volatile.Read(ref _bytesReceived);

    /// <summary>Frames dropped because the driver's receive buffers (without MRG_RXBUF, one chain) were too small for them.</summary>
    public long ReceiveDroppedTooLarge => Volatile.Read(ref _receiveTooLarge);

    /// <summary>Frames dropped because they carried an offload the driver did not negotiate (the network should have finished them).</summary>
    public long ReceiveDroppedNotNegotiated => Volatile.Read(ref _receiveNotNegotiated);

    /// <summary>Frames dropped because the driver posted malformed receive chains for them (completed empty).</summary>
    public long ReceiveDroppedMalformedBuffers => Volatile.Read(ref _receiveMalformedBuffers);

    private bool Mergeable => (_features & VirtioNetFeatures.MergeableReceiveBuffers) != 0;

    /// <summary>Most frames one receive pass takes off the link; the rest wait for the next poll (another VM flooding
    /// this one with frames it drops cannot keep the VM thread in the device).</summary>
    public const int FramesPerReceivePass = 2 * QueueSize;

    private void Receive(Virtqueue queue)
    {
        // Every pass delivers or drops one queued frame, or stops; at most FramesPerReceivePass of them.
        for (int pass = 0; ; pass++)
        {
            if (pass == FramesPerReceivePass)
            {
                _receiveSignalled = true; // more may wait: the poller comes back after the next quantum
                return;
            }

            int length = _link.PeekLength();
            if (length <= 0)
            {
                return;
            }

            if (length > _frame.Length)
            {
                return; // beyond the contract's largest frame: the link must drop such frames itself; leave it be
            }

            var gathered = GatherBuffers(queue, VirtioNetHeader.Size + length);
            if (gathered == Gathered.Wait)
            {
                return; // no room yet: the frame waits on the link until the driver posts buffers
            }

            if (gathered != Gathered.Ready)
            {
                if (!_link.TryReceive(_frame, out _, out _))
                {
                    return;
                }

                if (gathered == Gathered.TooSmall)
                {
                    _receiveTooLarge++;
                }
                else
                {
                    _receiveMalformedBuffers++;
                }

                continue;
            }

            Deliver(queue);
        }
    }

    private enum Gathered
    {
        Ready,
        Wait,
        TooSmall,
        Malformed,
    }

    /// <summary>
    /// Pops chains into <see cref="_receiveChains"/> until they hold <paramref name="needed"/> bytes. Chains already
    /// completed are never given back; chains only looked at are (<see cref="Virtqueue.Unpop"/>) when the frame waits.
    /// </summary>
    private Gathered GatherBuffers(Virtqueue queue, int needed)
    {
        _receiveChains.Clear();
        long capacity = 0;
        while (capacity < needed)
        {
            if (!queue.TryPop(out var chain))
            {
                queue.Unpop(_receiveChains.Count);
                _receiveChains.Clear();
                return Gathered.Wait;
            }

            string? problem = chain.Defect
                ?? (chain.ReadableLength != 0 ? "device-readable buffers in a receive chain" : null)
                ?? (chain.WritableLength == 0 ? "no device-writable bytes in a receive chain" : null)
                ?? (_receiveChains.Count == 0 && chain.WritableLength < VirtioNetHeader.Size ? $"{chain.WritableLength} bytes, no room for the {VirtioNetHeader.Size}-byte header" : null);
            if (problem is not null)
            {
                ReportDrop(queue, $"receive at head {chain.HeadIndex}: {problem}; completed empty");
                queue.Complete(chain, 0);
                CompleteEmpty(queue);
                return Gathered.Malformed;
            }

            _receiveChains.Add(chain);
            capacity += chain.WritableLength;
            if (capacity < needed && (!Mergeable || _receiveChains.Count >= queue.Size))
            {
                // Without MRG_RXBUF one chain per frame; with it, a whole ring of buffers: the frame cannot fit what this
                // driver posts, now or ever. Give the chains back and drop the frame.
                queue.Unpop(_receiveChains.Count);
                _receiveChains.Clear();
                ReportDrop(queue, $"receive at head {chain.HeadIndex}: {capacity} bytes posted for a {needed}-byte frame; frame dropped");
                return Gathered.TooSmall;
            }
        }

        return Gathered.Ready;
    }

    private void CompleteEmpty(Virtqueue queue)
    {
        foreach (var chain in _receiveChains)
        {
            queue.Complete(chain, 0);
        }

        _receiveChains.Clear();
    }

    private void Deliver(Virtqueue queue)
    {
        if (!_link.TryReceive(_frame, out int length, out var offload))
        {
            queue.Unpop(_receiveChains.Count); // the frame went away (the link was reset): nothing was written
            _receiveChains.Clear();
            return;
        }

        long capacity = 0;
        foreach (var chain in _receiveChains)
        {
            capacity += chain.WritableLength;
        }

        if (!Accepts(offload) || VirtioNetHeader.Size + length > capacity)
        {
            queue.Unpop(_receiveChains.Count);
            _receiveChains.Clear();
            if (VirtioNetHeader.Size + length > capacity)
            {
                _receiveTooLarge++; // the frame changed under us (the link was reset between peek and take)
            }
            else
            {
                _receiveNotNegotiated++;
            }

            return;
        }

        Span<byte> header = stackalloc byte[VirtioNetHeader.Size];
        VirtioNetHeader.ForReceive(offload, (ushort)_receiveChains.Count).Write(header);
        ReadOnlySpan<byte> frame = _frame.AsSpan(0, length);
        bool first = true;
        foreach (var chain in _receiveChains)
        {
            long room = chain.WritableLength;
            int written = 0;
            if (first)
            {
                chain.TryCopyToWritable(0, header);
                written = VirtioNetHeader.Size;
                first = false;
            }

            int take = (int)Math.Min(room - written, frame.Length);
            chain.TryCopyToWritable(written, frame[..take]);
            frame = frame[take..];
            queue.Complete(chain, (uint)(written + take));
        }

        _receiveChains.Clear();
        _framesReceived++;
        _bytesReceived += length;
    }

    /// <summary>True when the driver negotiated what <paramref name="offload"/> leaves to it.</summary>
    private bool Accepts(in FrameOffload offload)
    {
        var accepted = AcceptedOffloadsFor(_features);
        return offload.Segmentation switch
        {
            SegmentationKind.None => !offload.NeedsChecksum || (accepted & OffloadCapabilities.Checksum) != 0,
            SegmentationKind.TcpV4 => (accepted & OffloadCapabilities.TcpV4Segmentation) != 0,
            SegmentationKind.TcpV6 => (accepted & OffloadCapabilities.TcpV6Segmentation) != 0,
            _ => false,
        };
    }

    private void ReportDrop(Virtqueue queue, string message)
    {
        long n = ++_guestErrors;
        if (n <= ReportedErrorsInFull || n % 1024 == 0)
        {
            queue.ReportError(n <= ReportedErrorsInFull ? message : $"{message} ({n} guest errors so far)");
        }
    }
}
