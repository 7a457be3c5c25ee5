using System.Buffers.Binary;
using Backup.Network.Ethernet;
using Backup.Network.Protocols;
using Backup.Network.Switching;

namespace Backup.Network.Tests.Switching;

public sealed class VirtualSwitchTests
{
    private static readonly MacAddress A = MacAddress.Parse("52:54:00:00:00:0a");
    private static readonly MacAddress B = MacAddress.Parse("52:54:00:00:00:0b");
    private static readonly MacAddress C = MacAddress.Parse("52:54:00:00:00:0c");

    [Fact]
    public void FloodsUnknownThenForwardsLearnedUnicastToOnePort()
    {
        using var sw = new VirtualSwitch("lab");
        using var a = sw.CreatePort("a", A);
        using var b = sw.CreatePort("b", B);
        using var c = sw.CreatePort("c");
        int notified = 0;
        c.SetNotifier(() => Interlocked.Increment(ref notified));

        // c's address is unknown: flooded to a and b; then c answers and is learned
        Assert.True(a.Transmit(TestFrames.Ethernet(C, A, 0x88B5, 50), FrameOffload.None));
        Assert.Single(TestFrames.Drain(b));
        Assert.Single(TestFrames.Drain(c));
        Assert.Equal(1, notified);
        Assert.True(c.Transmit(TestFrames.Ethernet(A, C, 0x88B5, 50), FrameOffload.None));
        Assert.True(a.Transmit(TestFrames.Ethernet(C, A, 0x88B5, 50), FrameOffload.None));
        Assert.Empty(TestFrames.Drain(b));
        var atA = TestFrames.Drain(a);
        Assert.Single(atA);
        Assert.Equal(C, MacAddress.Read(atA[0].Frame.AsSpan(6)));
        Assert.Single(TestFrames.Drain(c));
        Assert.Equal(3, sw.LearnedAddresses);
    }

    [Fact]
    public void LearnedAddressesAgeOutAndAPortCannotFillTheTable()
    {
        var time = new ManualTime();
        using var sw = new VirtualSwitch("lab", new SwitchOptions { MacAging = TimeSpan.FromSeconds(60), MaxMacsPerPort = 4, MacTableCapacity = 8 }, time);
        using var a = sw.CreatePort("a", A);
        using var b = sw.CreatePort("b");
        using var c = sw.CreatePort("c");
        for (ulong i = 0; i < 1000; i++)
        {
            b.Transmit(TestFrames.Ethernet(A, new MacAddress(0x0200_0000_0000UL + i), 0x88B5, 46), FrameOffload.None);
        }

        Assert.Equal(1 + 4, sw.LearnedAddresses); // a's pinned address and four of b's
        Assert.True(c.Transmit(TestFrames.Ethernet(A, C, 0x88B5, 46), FrameOffload.None));
        Assert.Equal(6, sw.LearnedAddresses);

        // c is learned: unicast to it reaches only c; once it ages out, it is flooded again
        TestFrames.Drain(b);
        a.Transmit(TestFrames.Ethernet(C, A, 0x88B5, 46), FrameOffload.None);
        Assert.Empty(TestFrames.Drain(b));
        Assert.Single(TestFrames.Drain(c));
        time.Advance(TimeSpan.FromSeconds(61));
        a.Transmit(TestFrames.Ethernet(C, A, 0x88B5, 46), FrameOffload.None);
        Assert.Single(TestFrames.Drain(b));
        Assert.Single(TestFrames.Drain(c));
    }

    [Fact]
    public void BroadcastReachesEveryOtherPortButNotTheSender()
    {
        using var sw = new VirtualSwitch("lab");
        using var a = sw.CreatePort("a", A);
        using var b = sw.CreatePort("b", B);
        using var c = sw.CreatePort("c", C);
        Assert.True(a.Transmit(TestFrames.Ethernet(MacAddress.Broadcast, A, 0x88B5, 46), FrameOffload.None));
        Assert.Empty(TestFrames.Drain(a));
        Assert.Single(TestFrames.Drain(b));
        Assert.Single(TestFrames.Drain(c));
    }

    [Fact]
    public void SpoofedSourceIsDroppedAndCannotStealTheBoundAddress()
    {
        using var sw = new VirtualSwitch("lab");
        using var a = sw.CreatePort("a", A);
        using var b = sw.CreatePort("b", B);
        using var c = sw.CreatePort("c", C);
        Assert.False(b.Transmit(TestFrames.Ethernet(C, A, 0x88B5, 50), FrameOffload.None));
        Assert.Equal(1, b.Statistics.DroppedSpoofed);
        Assert.Empty(TestFrames.Drain(c));

        // an unbound port claiming a's address does not redirect a's traffic
        using var rogue = sw.CreatePort("rogue");
        Assert.True(rogue.Transmit(TestFrames.Ethernet(C, A, 0x88B5, 50), FrameOffload.None));
        Assert.True(c.Transmit(TestFrames.Ethernet(A, C, 0x88B5, 50), FrameOffload.None));
        Assert.Single(TestFrames.Drain(a));
        Assert.DoesNotContain(TestFrames.Drain(rogue), f => MacAddress.Read(f.Frame) == A);
        Assert.Throws<InvalidOperationException>(() => sw.CreatePort("again", A));
    }

    [Fact]
    public void MalformedAndOversizedFramesAreDroppedAndCounted()
    {
        using var sw = new VirtualSwitch("lab");
        using var a = sw.CreatePort("a");
        using var b = sw.CreatePort("b");
        Assert.False(a.Transmit(new byte[13], FrameOffload.None));
        Assert.False(a.Transmit(TestFrames.Ethernet(B, A, 0x88B5, 1600), FrameOffload.None));
        Assert.False(a.Transmit(TestFrames.Ethernet(B, MacAddress.Broadcast, 0x88B5, 60), FrameOffload.None));
        Assert.False(a.Transmit(TestFrames.Ethernet(B, A, 0x88B5, 60), new FrameOffload(true, 60, 20, SegmentationKind.None, 0, 0)));
        Assert.False(a.Transmit(TestFrames.Ethernet(B, A, 0x88B5, 60), new FrameOffload(false, 0, 0, SegmentationKind.TcpV4, 0, 54)));
        Assert.False(a.Transmit(TestFrames.Ethernet(B, A, 0x88B5, 60), new FrameOffload(false, 0, 0, (SegmentationKind)9, 100, 54)));
        // a super-frame whose headers are not TCP/IPv4 cannot be segmented: dropped at the receiver, counted there
        b.AcceptedOffloads = OffloadCapabilities.None;
        Assert.True(a.Transmit(TestFrames.Ethernet(B, A, EtherTypes.IPv4, 3000), new FrameOffload(false, 0, 0, SegmentationKind.TcpV4, 1000, 54)));
        Assert.Empty(TestFrames.Drain(b));
        // a super-frame asking for 1-byte segments (amplification) or segments larger than a frame
        var tcp = TestFrames.TcpV4(B, A, [10, 0, 0, 1], [10, 0, 0, 2], 1, 0x10, new byte[30_000], partial: true);
        Assert.False(a.Transmit(tcp, new FrameOffload(true, 34, 16, SegmentationKind.TcpV4, 1, 54)));
        Assert.True(a.Transmit(tcp, new FrameOffload(true, 34, 16, SegmentationKind.TcpV4, 9000, 54)));
        Assert.Empty(TestFrames.Drain(b));
        Assert.Equal(1, a.Statistics.DroppedOversized);
        Assert.Equal(6, a.Statistics.DroppedMalformed);
        Assert.Equal(2, b.Statistics.DroppedMalformed);
    }

    [Fact]
    public void BroadcastAndArpFloodsAreRateLimitedAndQueuesStayBounded()
    {
        var options = new SwitchOptions { QueueFrames = 64, QueueBytes = 64 * 1024, BroadcastBurst = 20, BroadcastPerSecond = 10, ArpBurst = 10, ArpPerSecond = 5 };
        using var sw = new VirtualSwitch("lab", options);
        using var hostile = sw.CreatePort("hostile", A);
        using var victim = sw.CreatePort("victim", B);
        using var other = sw.CreatePort("other", C);
        var broadcast = TestFrames.Ethernet(MacAddress.Broadcast, A, 0x88B5, 1000);
        var arp = TestFrames.Ethernet(MacAddress.Broadcast, A, EtherTypes.Arp, 28);
        for (int i = 0; i < 100_000; i++)
        {
            hostile.Transmit(i % 2 == 0 ? broadcast : arp, FrameOffload.None);
        }

        Assert.True(victim.QueuedFrames <= 64 && victim.QueuedBytes <= 64 * 1024);
        long passed = hostile.Statistics.FramesSent;
        Assert.InRange(passed, 20, 200); // the burst plus what the rate allows while the loop ran
        Assert.True(hostile.Statistics.DroppedBroadcastRateLimited + hostile.Statistics.DroppedArpRateLimited > 99_000);

        // other ports still talk: a unicast from other to victim gets through once the victim drains
        TestFrames.Drain(victim);
        Assert.True(other.Transmit(TestFrames.Ethernet(B, C, 0x88B5, 100), FrameOffload.None));
        Assert.Single(TestFrames.Drain(victim));
    }

    [Fact]
    public void QueueIsDropTailInFramesAndBytes()
    {
        using var sw = new VirtualSwitch("lab", new SwitchOptions { QueueFrames = 10, QueueBytes = 5000 });
        using var a = sw.CreatePort("a", A);
        using var b = sw.CreatePort("b", B);
        b.Transmit(TestFrames.Ethernet(A, B, 0x88B5, 46), FrameOffload.None);
        for (int i = 0; i < 20; i++)
        {
            a.Transmit(TestFrames.Ethernet(B, A, 0x88B5, 986), FrameOffload.None);
        }

        Assert.Equal(5, b.QueuedFrames);
        Assert.Equal(15, b.Statistics.DroppedQueueFull);
        var small = new byte[100];
        Assert.False(b.TryReceive(small, out int length, out _));
        Assert.Equal(1000, length);
        Assert.Equal(1000, b.PeekLength());
        Assert.Equal(5, TestFrames.Drain(b).Count);
    }

    [Fact]
    public void PartialChecksumIsCompletedForANicThatCannot()
    {
        using var sw = new VirtualSwitch("lab");
        using var a = sw.CreatePort("a", A);
        using var b = sw.CreatePort("b", B);
        using var c = sw.CreatePort("c", C);
        b.AcceptedOffloads = OffloadCapabilities.None;
        c.AcceptedOffloads = OffloadCapabilities.Checksum;
        var payload = Enumerable.Range(0, 999).Select(i => (byte)(i * 7)).ToArray();
        var frame = TestFrames.TcpV4(MacAddress.Broadcast, A, [10, 0, 0, 1], [10, 0, 0, 2], 5, 0x18, payload, partial: true);
        Assert.False(TestFrames.ChecksumsVerify(frame));
        Assert.True(a.Transmit(frame, new FrameOffload(true, 34, 16, SegmentationKind.None, 0, 0)));
        var atB = Assert.Single(TestFrames.Drain(b));
        Assert.True(atB.Offload.IsNone);
        Assert.True(TestFrames.ChecksumsVerify(atB.Frame));
        var atC = Assert.Single(TestFrames.Drain(c));
        Assert.True(atC.Offload.NeedsChecksum);
        Assert.Equal(frame, atC.Frame);
        Assert.Equal(1, b.Statistics.ChecksumsCompleted);
    }

    [Fact]
    public void TcpSuperFrameIsSegmentedWithCorrectHeaders()
    {
        using var sw = new VirtualSwitch("lab");
        using var a = sw.CreatePort("a", A);
        using var b = sw.CreatePort("b", B);
        b.AcceptedOffloads = OffloadCapabilities.Checksum;
        var payload = Enumerable.Range(0, 10_000).Select(i => (byte)(i * 13)).ToArray();
        var frame = TestFrames.TcpV4(B, A, [10, 0, 0, 1], [10, 0, 0, 2], 0xFFFF_F000, 0x19 /* FIN PSH ACK */, payload, partial: true);
        Assert.True(a.Transmit(frame, new FrameOffload(true, 34, 16, SegmentationKind.TcpV4, 1448, 54)));
        var frames = TestFrames.Drain(b);
        Assert.Equal(7, frames.Count);
        var joined = new List<byte>();
        for (int i = 0; i < frames.Count; i++)
        {
            var f = frames[i].Frame;
            Assert.True(frames[i].Offload.IsNone);
            Assert.True(TestFrames.ChecksumsVerify(f), $"segment {i}");
            Assert.Equal((ushort)(1000 + i), BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(18)));
            Assert.Equal(unchecked(0xFFFF_F000 + (uint)(i * 1448)), BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(38)));
            byte flags = f[47];
            Assert.Equal(i == 6 ? 0x19 : 0x10, flags);
            Assert.Equal(i == 6 ? 10_000 - (6 * 1448) : 1448, f.Length - 54);
            joined.AddRange(f.Skip(54));
        }

        Assert.Equal(payload, joined.ToArray());
        Assert.Equal(1, b.Statistics.FramesSegmented);

        b.AcceptedOffloads = OffloadCapabilities.Checksum | OffloadCapabilities.TcpV4Segmentation;
        Assert.True(a.Transmit(frame, new FrameOffload(true, 34, 16, SegmentationKind.TcpV4, 1448, 54)));
        Assert.Equal(frame, Assert.Single(TestFrames.Drain(b)).Frame);
    }

    [Fact]
    public void Tcp6SuperFrameIsSegmentedWithCorrectHeaders()
    {
        using var sw = new VirtualSwitch("lab");
        using var a = sw.CreatePort("a", A);
        using var b = sw.CreatePort("b", B);
        var payload = Enumerable.Range(0, 3000).Select(i => (byte)(i * 5)).ToArray();
        var src = Enumerable.Range(0, 16).Select(i => (byte)(0xfd + i)).ToArray();
        var dst = Enumerable.Range(0, 16).Select(i => (byte)(0x20 + i)).ToArray();
        var f = TestFrames.Ethernet(B, A, EtherTypes.IPv6, 40 + 20 + payload.Length);
        var ip = f.AsSpan(14);
        ip[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)(20 + payload.Length));
        ip[6] = EtherTypes.Tcp;
        ip[7] = 64;
        src.CopyTo(ip[8..]);
        dst.CopyTo(ip[24..]);
        var tcp = ip[40..];
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], 1000);
        tcp[12] = 5 << 4;
        tcp[13] = 0x19;
        payload.CopyTo(tcp[20..]);
        Assert.True(a.Transmit(f, new FrameOffload(true, 54, 16, SegmentationKind.TcpV6, 1220, 74)));
        var frames = TestFrames.Drain(b);
        Assert.Equal(3, frames.Count);
        for (int i = 0; i < 3; i++)
        {
            var seg = frames[i].Frame.AsSpan(14);
            int len = i < 2 ? 1220 : 3000 - 2440;
            Assert.Equal(20 + len, BinaryPrimitives.ReadUInt16BigEndian(seg[4..]));
            Assert.Equal(1000u + (uint)(i * 1220), BinaryPrimitives.ReadUInt32BigEndian(seg[44..]));
            Assert.Equal(i == 2 ? 0x19 : 0x10, seg[53]);
            ulong pseudo = 0;
            for (int j = 8; j < 40; j += 2)
            {
                pseudo += BinaryPrimitives.ReadUInt16BigEndian(seg[j..]);
            }

            pseudo += EtherTypes.Tcp + (ulong)(20 + len);
            Assert.Equal(0, TestFrames.Checksum(seg[40..], pseudo));
            Assert.Equal(payload.AsSpan(i * 1220, len).ToArray(), seg[60..].ToArray());
        }
    }

    [Fact]
    public async Task ManyThreadsSendingAtOnceLoseNothingBelowTheBounds()
    {
        using var sw = new VirtualSwitch("lab", new SwitchOptions { QueueFrames = 100_000, QueueBytes = 64 << 20 });
        var ports = Enumerable.Range(0, 4).Select(i => sw.CreatePort($"p{i}", new MacAddress(0x5254_0000_1000UL + (ulong)i))).ToArray();
        using var sink = sw.CreatePort("sink", new MacAddress(0x5254_0000_2000UL));
        sink.Transmit(TestFrames.Ethernet(MacAddress.Broadcast, sink.BoundMac!.Value, 0x88B5, 46), FrameOffload.None);
        await Task.WhenAll(ports.Select(p => Task.Run(() =>
        {
            for (int i = 0; i < 5000; i++)
            {
                Assert.True(p.Transmit(TestFrames.Ethernet(sink.BoundMac!.Value, p.BoundMac!.Value, 0x88B5, 100), FrameOffload.None));
            }
        })));
        Assert.Equal(20_000, TestFrames.Drain(sink).Count);
        foreach (var p in ports)
        {
            p.Dispose();
        }
    }
}
