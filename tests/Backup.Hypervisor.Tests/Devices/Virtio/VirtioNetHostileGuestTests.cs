using Backup.Hypervisor.Devices.Virtio;
using Backup.Network.Ethernet;
using static Backup.Hypervisor.Devices.Virtio.VirtioNetFeatures;

namespace Backup.Hypervisor.Tests.Devices.Virtio;

/// <summary>
/// What a hostile or broken driver can do to virtio-net: malformed chains, oversized frames, offloads it never
/// negotiated, floods. Each bad request is completed with length 0 and counted; the queue and the host keep working.
/// </summary>
public sealed class VirtioNetHostileGuestTests : IDisposable
{
    private readonly VirtioNetTestBench _bench = new();

    public VirtioNetHostileGuestTests() => _bench.Start(Mac | Status | Checksum | HostTso4);

    public void Dispose() => _bench.Dispose();

    [Fact]
    public void A_chain_with_only_a_header_is_malformed()
    {
        var header = new byte[12];
        _bench.PostChain(1, [new GuestSegment(_bench.Place(header), 12, false)]);
        AssertDroppedThenQueueWorks(malformed: 1, oversized: 0, "shorter than an Ethernet header");
    }

    [Fact]
    public void A_chain_shorter_than_the_header_is_malformed()
    {
        _bench.PostChain(1, [new GuestSegment(_bench.Place(new byte[8]), 8, false)]);
        AssertDroppedThenQueueWorks(malformed: 1, oversized: 0, "no room for the 12-byte header");
    }

    [Fact]
    public void A_device_writable_buffer_on_the_transmit_queue_is_malformed()
    {
        var frame = new byte[12 + 60];
        _bench.PostChain(1, [new GuestSegment(_bench.Place(frame), 72, false), new GuestSegment(_bench.Allocate(64), 64, true)]);
        AssertDroppedThenQueueWorks(malformed: 1, oversized: 0, "device-writable");
    }

    [Fact]
    public void A_buffer_outside_guest_ram_is_malformed()
    {
        _bench.PostChain(1, [new GuestSegment(_bench.Place(new byte[12]), 12, false), new GuestSegment(0x4000_0000, 100, false)]);
        _bench.PostChain(1, [new GuestSegment(_bench.Place(new byte[12]), 12, false), new GuestSegment(VirtioNetTestBench.RamBase + (4 << 20) - 10, 100, false)]);
        AssertDroppedThenQueueWorks(malformed: 2, oversized: 0, "outside guest RAM");
    }

    [Fact]
    public void An_ordinary_frame_over_1518_bytes_is_dropped_as_oversized()
    {
        _bench.Send(default, VirtioNetTestBench.Frame(FrameLimits.MaximumLength + 1));
        AssertDroppedThenQueueWorks(malformed: 0, oversized: 1, "exceeds 1518");
    }

    [Fact]
    public void A_chain_far_beyond_a_super_frame_is_dropped_without_being_copied()
    {
        ulong big = _bench.Allocate(1 << 20);
        _bench.PostChain(1, [new GuestSegment(_bench.Place(new byte[12]), 12, false), new GuestSegment(big, 1 << 20, false), new GuestSegment(big, 1 << 20, false)]);
        AssertDroppedThenQueueWorks(malformed: 0, oversized: 1, "exceeds 65553");
    }

    [Fact]
    public void A_super_frame_without_its_segmentation_negotiated_is_malformed()
    {
        _bench.Send(new VirtioNetHeader(VirtioNetHeader.NeedsChecksumFlag, VirtioNetHeader.GsoTcpV6, 0, 1448, 54, 16, 0), VirtioNetTestBench.TcpFrame(9000));
        AssertDroppedThenQueueWorks(malformed: 1, oversized: 0, "gso_type 4 was not negotiated");
    }

    [Theory]
    [InlineData(VirtioNetHeader.NeedsChecksumFlag, VirtioNetHeader.GsoUdp, 1448, 34, 16, "gso_type 3")]
    [InlineData(VirtioNetHeader.NeedsChecksumFlag, VirtioNetHeader.GsoTcpV4 | VirtioNetHeader.GsoEcn, 1448, 34, 16, "gso_type 129")]
    [InlineData(0, VirtioNetHeader.GsoTcpV4, 1448, 34, 16, "without a partial checksum")]
    [InlineData(VirtioNetHeader.NeedsChecksumFlag, VirtioNetHeader.GsoTcpV4, 0, 34, 16, "gso_size 0")]
    [InlineData(VirtioNetHeader.NeedsChecksumFlag, VirtioNetHeader.GsoTcpV4, 1448, 8990, 8, "does not fit")]
    [InlineData(VirtioNetHeader.NeedsChecksumFlag, VirtioNetHeader.GsoNone, 0, 8000, 16, "outside the")]
    [InlineData(VirtioNetHeader.DataValidFlag, VirtioNetHeader.GsoNone, 0, 0, 0, "flags 0x2")]
    public void Offload_fields_that_do_not_fit_the_frame_or_the_features_are_malformed(byte flags, byte gso, ushort gsoSize, ushort start, ushort offset, string reason)
    {
        int length = gso == VirtioNetHeader.GsoNone ? 1000 : 9000;
        _bench.Send(new VirtioNetHeader(flags, gso, 0, gsoSize, start, offset, 0), VirtioNetTestBench.TcpFrame(length));
        AssertDroppedThenQueueWorks(malformed: 1, oversized: 0, reason);
    }

    [Fact]
    public void A_tcp_header_claiming_more_than_the_frame_holds_is_malformed()
    {
        var frame = VirtioNetTestBench.TcpFrame(60); // the TCP header at 34 says 32 bytes: 66 > 60
        _bench.Send(new VirtioNetHeader(VirtioNetHeader.NeedsChecksumFlag, VirtioNetHeader.GsoTcpV4, 0, 1448, 34, 16, 0), frame);
        AssertDroppedThenQueueWorks(malformed: 1, oversized: 0, "claims 32 bytes");
    }

    [Fact]
    public void Malformed_receive_chains_are_completed_empty_and_the_frame_is_dropped()
    {
        _bench.FromNetwork(VirtioNetTestBench.Frame(100));
        _bench.PostChain(0, [new GuestSegment(_bench.Allocate(200), 200, false)]); // device-readable on the receive queue
        Assert.Equal(1, _bench.UsedIndex(0));
        Assert.Equal(0u, _bench.UsedElement(0, 0).Length);
        _bench.FromNetwork(VirtioNetTestBench.Frame(100));
        _bench.PostChain(0, [new GuestSegment(_bench.Allocate(8), 8, true)]); // no room for the header
        Assert.Equal(2, _bench.Nic.ReceiveDroppedMalformedBuffers);
        Assert.False(_bench.NeedsReset);

        _bench.FromNetwork(VirtioNetTestBench.Frame(100));
        _bench.PostReceive(200);
        Assert.Equal(1, _bench.Nic.FramesReceived);
    }

    [Fact]
    public void A_flood_from_the_network_is_bounded_by_the_link_and_a_flood_from_the_guest_by_the_queue()
    {
        int accepted = 0;
        for (int i = 0; i < 10_000; i++)
        {
            accepted += _bench.FromNetwork(VirtioNetTestBench.Frame(1000)) ? 1 : 0;
        }

        Assert.Equal(_bench.Pair.QueueFrames, accepted);
        Assert.Equal(10_000 - accepted, _bench.Pair.B.Dropped);

        // The guest fills the whole transmit queue and notifies once: every chain is processed, none twice.
        for (int i = 0; i < VirtioNetTestBench.QueueSize / 2; i++)
        {
            _bench.Send(default, VirtioNetTestBench.Frame(100 + i));
        }

        Assert.Equal(VirtioNetTestBench.QueueSize / 2, _bench.UsedIndex(1));
        Assert.Equal(VirtioNetTestBench.QueueSize / 2, _bench.Nic.FramesTransmitted);
    }

    [Fact]
    public void A_flood_of_frames_the_guest_cannot_take_is_worked_off_a_bounded_number_per_pass()
    {
        using var bench = new VirtioNetTestBench(linkQueueFrames: 4096);
        bench.Pair.A.ForcedOffloads = OffloadCapabilities.Checksum; // the network hands over what the guest never negotiated
        bench.Start(Mac | Status);
        bench.PostReceive(1526);
        // More frames than one pass takes: each is dropped, none delivered, and the pass stops at its budget.
        const int sent = VirtioNetDevice.FramesPerReceivePass + 20;
        for (int i = 0; i < sent; i++)
        {
            Assert.True(bench.FromNetwork(VirtioNetTestBench.TcpFrame(100), new FrameOffload(true, 34, 16, SegmentationKind.None, 0, 0)));
        }

        bench.Poll();
        Assert.Equal(VirtioNetDevice.FramesPerReceivePass, bench.Nic.ReceiveDroppedNotNegotiated);
        Assert.Equal(20, bench.Pair.A.QueuedFrames);
        bench.Poll(); // the device asked to be polled again
        Assert.Equal(sent, bench.Nic.ReceiveDroppedNotNegotiated);
        Assert.Equal(0, bench.UsedIndex(0));
    }

    [Fact]
    public void Error_reports_are_rate_limited_while_every_drop_is_counted()
    {
        for (int i = 0; i < 200; i++)
        {
            _bench.Send(default, new byte[5]);
        }

        Assert.Equal(200, _bench.Nic.TransmitDroppedMalformed);
        Assert.InRange(_bench.Errors.Count, 16, 20);
    }

    private void AssertDroppedThenQueueWorks(int malformed, int oversized, string reason)
    {
        Assert.Equal(malformed, _bench.Nic.TransmitDroppedMalformed);
        Assert.Equal(oversized, _bench.Nic.TransmitDroppedOversized);
        Assert.Equal(malformed + oversized, _bench.UsedIndex(1));
        for (int i = 0; i < malformed + oversized; i++)
        {
            Assert.Equal(0u, _bench.UsedElement(1, i).Length);
        }

        Assert.Contains(_bench.Errors, e => e.Contains(reason, StringComparison.Ordinal));
        Assert.False(_bench.NeedsReset);
        Assert.Null(_bench.ToNetwork());

        var frame = VirtioNetTestBench.Frame(64);
        _bench.Send(default, frame);
        Assert.Equal(frame, _bench.ToNetwork()?.Frame);
        Assert.Equal(1, _bench.Nic.FramesTransmitted);
    }
}
