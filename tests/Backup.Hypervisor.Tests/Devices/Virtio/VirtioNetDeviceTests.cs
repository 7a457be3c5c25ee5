using Backup.Hypervisor.Devices.Virtio;
using Backup.Hypervisor.Snapshots;
using Backup.Network.Ethernet;
using Backup.TestSupport;
using static Backup.Hypervisor.Devices.Virtio.VirtioNetFeatures;

namespace Backup.Hypervisor.Tests.Devices.Virtio;

/// <summary>virtio-net on its transport: identity and config space, transmit and receive with offloads, link status, state.</summary>
public sealed class VirtioNetDeviceTests : IDisposable
{
    private const ulong Offloads = Checksum | GuestChecksum | HostTso4 | HostTso6 | GuestTso4 | GuestTso6;
    private readonly VirtioNetTestBench _bench = new();

    public void Dispose() => _bench.Dispose();

    [Fact]
    public void Identifies_as_a_network_card_with_its_mac_link_status_and_mtu_in_config_space()
    {
        Assert.Equal(1u, _bench.Reg(0x008));
        uint offered = _bench.Reg(0x010);
        Assert.Equal((uint)VirtioNetFeatures.Offered, offered & (uint)VirtioFeatures.DeviceSpecificMask);
        _bench.Reg(0x030, 1);
        Assert.Equal((uint)VirtioNetDevice.QueueSize, _bench.Reg(0x034));
        _bench.Reg(0x030, 2);
        Assert.Equal(0u, _bench.Reg(0x034)); // no control queue

        var mac = new byte[6];
        for (int i = 0; i < 6; i++)
        {
            mac[i] = (byte)_bench.Transport.Read(0x100 + (ulong)i, 1);
        }

        Assert.Equal(VirtioNetTestBench.NicMac, MacAddress.Read(mac));
        Assert.Equal(1UL, _bench.Transport.Read(0x106, 2)); // VIRTIO_NET_S_LINK_UP
        Assert.Equal(1500UL, _bench.Transport.Read(0x10A, 2));
        Assert.Equal(0UL, _bench.Transport.Read(0x10C, 1)); // past the 12-byte config space
    }

    [Fact]
    public void A_transmitted_frame_reaches_the_network_unchanged()
    {
        _bench.Start(Mac | Status);
        var frame = VirtioNetTestBench.Frame(600);
        ushort head = _bench.Send(default, frame);

        var sent = _bench.ToNetwork();
        Assert.NotNull(sent);
        Assert.Equal(frame, sent.Value.Frame);
        Assert.True(sent.Value.Offload.IsNone);
        Assert.Equal(((uint)head, 0u), _bench.UsedElement(1, 0));
        Assert.Equal(1, _bench.Nic.FramesTransmitted);
        Assert.Equal(600, _bench.Nic.BytesTransmitted);
        Assert.True(_bench.Line.Level);
        Assert.Empty(_bench.Errors);
    }

    [Fact]
    public void A_tso4_super_frame_passes_through_with_its_offload_when_the_network_accepts_it()
    {
        _bench.Start(Mac | Status | Offloads);
        _bench.Pair.B.AcceptedOffloads = OffloadCapabilities.Checksum | OffloadCapabilities.TcpV4Segmentation;
        var frame = VirtioNetTestBench.TcpFrame(20_000);
        // Linux's hdr_len is the skb's linear length, a hint only: the device derives 34 + 32 from the TCP header.
        _bench.Send(new VirtioNetHeader(VirtioNetHeader.NeedsChecksumFlag, VirtioNetHeader.GsoTcpV4, 128, 1448, 34, 16, 0), frame);

        var sent = _bench.ToNetwork();
        Assert.NotNull(sent);
        Assert.Equal(frame, sent.Value.Frame);
        Assert.Equal(new FrameOffload(true, 34, 16, SegmentationKind.TcpV4, 1448, 66), sent.Value.Offload);
        Assert.Equal(1, _bench.Nic.SuperFramesTransmitted);
        Assert.Empty(_bench.Errors);
    }

    [Fact]
    public void A_tso6_super_frame_passes_through_with_its_header_length_from_the_tcp_header()
    {
        _bench.Start(Mac | Status | Offloads);
        _bench.Pair.B.AcceptedOffloads = OffloadCapabilities.Checksum | OffloadCapabilities.TcpV6Segmentation;
        var frame = VirtioNetTestBench.Frame(30_000, etherType: 0x86DD);
        frame[14] = 0x60;
        frame[20] = 6; // next header TCP; the TCP header follows the 40-byte IPv6 header, at 54
        frame[54 + 12] = 5 << 4;
        _bench.Send(new VirtioNetHeader(VirtioNetHeader.NeedsChecksumFlag, VirtioNetHeader.GsoTcpV6, 0, 1428, 54, 16, 0), frame);

        var sent = _bench.ToNetwork();
        Assert.NotNull(sent);
        Assert.Equal(new FrameOffload(true, 54, 16, SegmentationKind.TcpV6, 1428, 74), sent.Value.Offload);
    }

    [Fact]
    public void A_partial_checksum_frame_carries_its_checksum_offload()
    {
        _bench.Start(Mac | Status | Checksum | GuestChecksum);
        _bench.Pair.B.AcceptedOffloads = OffloadCapabilities.Checksum;
        var frame = VirtioNetTestBench.TcpFrame(300);
        _bench.Send(new VirtioNetHeader(VirtioNetHeader.NeedsChecksumFlag, 0, 0, 0, 34, 16, 0), frame);

        var sent = _bench.ToNetwork();
        Assert.NotNull(sent);
        Assert.Equal(new FrameOffload(true, 34, 16, SegmentationKind.None, 0, 0), sent.Value.Offload);
    }

    [Fact]
    public void Negotiated_guest_offloads_are_what_the_link_is_told_the_nic_accepts_and_reset_withdraws_them()
    {
        Assert.Equal(OffloadCapabilities.None, _bench.Pair.A.RequestedOffloads);
        _bench.Start(Mac | Status | Checksum | GuestChecksum | GuestTso4);
        Assert.Equal(OffloadCapabilities.Checksum | OffloadCapabilities.TcpV4Segmentation, _bench.Pair.A.RequestedOffloads);
        _bench.Reg(VirtioNetTestBench.Status, 0);
        Assert.Equal(OffloadCapabilities.None, _bench.Pair.A.RequestedOffloads);
        _bench.Start(Mac | Status | GuestTso4); // TSO without GUEST_CSUM is not a usable combination
        Assert.Equal(OffloadCapabilities.None, _bench.Pair.A.RequestedOffloads);
    }

    [Fact]
    public void A_frame_waits_on_the_link_until_a_buffer_is_posted_and_then_arrives_behind_its_header()
    {
        _bench.Start(Mac | Status);
        var frame = VirtioNetTestBench.Frame(1000);
        Assert.True(_bench.FromNetwork(frame));
        Assert.True(_bench.Wakes >= 1);
        _bench.Poll();
        Assert.Equal(0, _bench.UsedIndex(0));
        Assert.Equal(1, _bench.Pair.A.QueuedFrames);

        ulong buffer = _bench.PostReceive(1526);
        Assert.Equal(1, _bench.UsedIndex(0));
        Assert.Equal(1012u, _bench.UsedElement(0, 0).Length);
        var header = VirtioNetHeader.Read(_bench.Span(buffer, 12));
        Assert.Equal(new VirtioNetHeader(0, 0, 0, 0, 0, 0, 1), header);
        Assert.Equal(frame, _bench.Span(buffer + 12, 1000).ToArray());
        Assert.Equal(0, _bench.Pair.A.QueuedFrames);
        Assert.Equal(1, _bench.Nic.FramesReceived);
    }

    [Fact]
    public void Frames_arriving_while_the_guest_runs_are_delivered_by_the_poller()
    {
        _bench.Start(Mac | Status);
        _bench.PostReceive(1526);
        _bench.PostReceive(1526);
        _bench.FromNetwork(VirtioNetTestBench.Frame(100));
        _bench.FromNetwork(VirtioNetTestBench.Frame(200));
        Assert.Equal(0, _bench.UsedIndex(0));
        _bench.Poll();
        Assert.Equal(2, _bench.UsedIndex(0));
        Assert.Equal(112u, _bench.UsedElement(0, 0).Length);
        Assert.Equal(212u, _bench.UsedElement(0, 1).Length);
    }

    [Fact]
    public void With_mergeable_buffers_a_super_frame_spans_several_buffers_and_num_buffers_says_how_many()
    {
        _bench.Start(Mac | Status | Offloads | MergeableReceiveBuffers);
        var frame = VirtioNetTestBench.TcpFrame(3000);
        var offload = new FrameOffload(true, 34, 16, SegmentationKind.TcpV4, 1448, 66);
        Assert.True(_bench.FromNetwork(frame, offload));
        ulong first = _bench.PostReceive(1000, notify: true);
        Assert.Equal(0, _bench.UsedIndex(0)); // one buffer is not enough: it is given back, the frame waits

        ulong[] more = [_bench.PostReceive(1000, notify: false), _bench.PostReceive(1000, notify: false), _bench.PostReceive(1000, notify: true)];
        Assert.Equal(4, _bench.UsedIndex(0));
        Assert.Equal([1000u, 1000u, 1000u, 12u], Enumerable.Range(0, 4).Select(i => _bench.UsedElement(0, i).Length));
        var header = VirtioNetHeader.Read(_bench.Span(first, 12));
        Assert.Equal(new VirtioNetHeader(VirtioNetHeader.NeedsChecksumFlag, VirtioNetHeader.GsoTcpV4, 66, 1448, 34, 16, 4), header);
        var received = _bench.Span(first + 12, 988).ToArray()
            .Concat(_bench.Span(more[0], 1000).ToArray()).Concat(_bench.Span(more[1], 1000).ToArray()).Concat(_bench.Span(more[2], 12).ToArray());
        Assert.Equal(frame, received.ToArray());
    }

    [Fact]
    public void Without_mergeable_buffers_a_frame_too_large_for_the_posted_buffer_is_dropped_and_the_buffer_reused()
    {
        _bench.Start(Mac | Status);
        _bench.FromNetwork(VirtioNetTestBench.Frame(1500));
        _bench.FromNetwork(VirtioNetTestBench.Frame(60));
        ulong buffer = _bench.PostReceive(200);
        Assert.Equal(1, _bench.UsedIndex(0));
        Assert.Equal(72u, _bench.UsedElement(0, 0).Length);
        Assert.Equal(VirtioNetTestBench.Frame(60), _bench.Span(buffer + 12, 60).ToArray());
        Assert.Equal(1, _bench.Nic.ReceiveDroppedTooLarge);
        Assert.Equal(1, _bench.Nic.FramesReceived);
    }

    [Fact]
    public void With_mergeable_buffers_a_frame_larger_than_a_whole_ring_of_buffers_is_dropped_not_waited_for()
    {
        _bench.Start(Mac | Status | Offloads | MergeableReceiveBuffers);
        var frame = VirtioNetTestBench.TcpFrame(4000);
        Assert.True(_bench.FromNetwork(frame, new FrameOffload(true, 34, 16, SegmentationKind.TcpV4, 1448, 66)));
        for (int i = 0; i < VirtioNetTestBench.QueueSize - 1; i++)
        {
            _bench.PostReceive(100, notify: false);
        }

        _bench.PostReceive(100); // a full ring holds 1600 bytes: the 4012 needed will never come
        Assert.Equal(1, _bench.Nic.ReceiveDroppedTooLarge);
        Assert.Equal(0, _bench.UsedIndex(0));
        Assert.True(_bench.FromNetwork(VirtioNetTestBench.Frame(150)));
        _bench.Poll();
        Assert.Equal(2, _bench.UsedIndex(0)); // the buffers were given back and now carry the next frame
        Assert.Equal([100u, 62u], new[] { _bench.UsedElement(0, 0).Length, _bench.UsedElement(0, 1).Length });
    }

    [Fact]
    public void A_frame_with_an_offload_the_driver_did_not_negotiate_is_dropped_not_delivered_unfinished()
    {
        _bench.Start(Mac | Status); // no GUEST_CSUM: every frame must arrive finished
        _bench.Pair.A.ForcedOffloads = OffloadCapabilities.Checksum | OffloadCapabilities.TcpV4Segmentation; // a network that got it wrong
        _bench.PostReceive(1526);
        Assert.True(_bench.FromNetwork(VirtioNetTestBench.TcpFrame(1000), new FrameOffload(true, 34, 16, SegmentationKind.None, 0, 0)));
        Assert.True(_bench.FromNetwork(VirtioNetTestBench.TcpFrame(1400), new FrameOffload(true, 34, 16, SegmentationKind.TcpV4, 1000, 66)));
        Assert.True(_bench.FromNetwork(VirtioNetTestBench.Frame(80)));
        _bench.Poll();
        Assert.Equal(2, _bench.Nic.ReceiveDroppedNotNegotiated);
        Assert.Equal(1, _bench.UsedIndex(0));
        Assert.Equal(92u, _bench.UsedElement(0, 0).Length);
    }

    [Fact]
    public void The_in_memory_link_refuses_offloads_the_receiving_nic_does_not_accept()
    {
        _bench.Start(Mac | Status);
        Assert.False(_bench.FromNetwork(VirtioNetTestBench.TcpFrame(9000), new FrameOffload(true, 34, 16, SegmentationKind.TcpV4, 1448, 66)));
        Assert.Equal(1, _bench.Pair.B.Dropped);
    }

    [Fact]
    public void Link_down_and_up_raise_configuration_change_interrupts_and_a_down_link_drops_transmits()
    {
        _bench.Start(Mac | Status);
        _bench.Reg(VirtioNetTestBench.InterruptAck, 3);
        _bench.Pair.SetUp(false);
        _bench.Poll();
        Assert.Equal(2u, _bench.Reg(VirtioNetTestBench.InterruptStatus) & 2);
        Assert.Equal(0UL, _bench.Transport.Read(0x106, 2));
        Assert.False(_bench.Nic.ReportedLinkUp);

        _bench.Reg(VirtioNetTestBench.InterruptAck, 3);
        _bench.Send(default, VirtioNetTestBench.Frame(100));
        Assert.Equal(1, _bench.Nic.TransmitDroppedByLink);
        Assert.Equal(0, _bench.Nic.FramesTransmitted);

        _bench.Reg(VirtioNetTestBench.InterruptAck, 3);
        _bench.Pair.SetUp(true);
        _bench.Poll();
        Assert.Equal(2u, _bench.Reg(VirtioNetTestBench.InterruptStatus) & 2);
        Assert.Equal(1UL, _bench.Transport.Read(0x106, 2));
        Assert.Empty(_bench.Errors);
    }

    [Fact]
    public void Without_status_negotiated_a_link_change_raises_no_interrupt()
    {
        _bench.Start(Mac);
        _bench.Pair.SetUp(false);
        _bench.Poll();
        Assert.Equal(0u, _bench.Reg(VirtioNetTestBench.InterruptStatus));
    }

    [Fact]
    public void State_round_trips_and_a_different_mac_is_refused_with_both_addresses_named()
    {
        _bench.Start(Mac | Status | Offloads | MergeableReceiveBuffers);
        var writer = new StateWriter();
        _bench.Nic.SaveState(writer);

        using var samePair = new InMemoryLinkPair();
        var same = new VirtioNetDevice(VirtioNetTestBench.NicMac, samePair.A);
        same.RestoreState(new StateReader(writer.ToArray(), "virtio-net0"), 1);
        var again = new StateWriter();
        same.SaveState(again);
        Assert.Equal(writer.ToArray(), again.ToArray());
        Assert.Equal(_bench.Nic.NegotiatedFeatures, same.NegotiatedFeatures);
        Assert.Equal(VirtioNetDevice.AcceptedOffloadsFor(same.NegotiatedFeatures), samePair.A.RequestedOffloads);

        using var otherPair = new InMemoryLinkPair();
        var other = new VirtioNetDevice(MacAddress.Parse("52:54:00:ab:cd:ef"), otherPair.A);
        var e = Assert.Throws<VmStateFormatException>(() => other.RestoreState(new StateReader(writer.ToArray(), "virtio-net0"), 1));
        Assert.Contains("52:54:00:12:34:56", e.Message, StringComparison.Ordinal);
        Assert.Contains("52:54:00:ab:cd:ef", e.Message, StringComparison.Ordinal);
        Assert.Throws<VmStateFormatException>(() => same.RestoreState(new StateReader(writer.ToArray(), "virtio-net0"), 2));
        Assert.Throws<VmStateFormatException>(() => same.RestoreState(new StateReader(writer.ToArray()[..^1], "virtio-net0"), 1));
    }

    [Fact]
    public void A_nic_needs_a_unicast_address_and_mac_and_status_among_its_features()
    {
        using var pair = new InMemoryLinkPair();
        Assert.Throws<ArgumentException>(() => new VirtioNetDevice(MacAddress.Broadcast, pair.A));
        Assert.Throws<ArgumentException>(() => new VirtioNetDevice(MacAddress.Parse("01:00:5e:00:00:01"), pair.A));
        Assert.Throws<ArgumentException>(() => new VirtioNetDevice(VirtioNetTestBench.NicMac, pair.A, offeredFeatures: Checksum));
    }
}
