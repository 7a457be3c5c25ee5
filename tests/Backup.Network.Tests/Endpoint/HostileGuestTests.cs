using System.Net;
using Backup.Network.Ethernet;
using Backup.Network.Protocols;
using Backup.Network.Tests.Network;

namespace Backup.Network.Tests.Endpoint;

public sealed class HostileGuestTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task FloodsAndGarbageFromOneGuestLeaveTheEndpointAndOtherGuestsWorking()
    {
        using var lab = new LabNetwork("hostile");
        lab.StartHttp(80, 200, "fine");
        var hostileMac = MacAddress.Parse("52:54:00:66:66:66");
        using var hostile = lab.Network.Attach("hostile", hostileMac);
        var random = new Random(66);
        long before = GC.GetTotalMemory(forceFullCollection: true);
        var frames = new List<byte[]>();
        for (int i = 0; i < 64; i++)
        {
            var junk = new byte[random.Next(14, 1518)];
            random.NextBytes(junk);
            hostileMac.Write(junk.AsSpan(6));
            if (i % 2 == 0)
            {
                lab.Network.Endpoint.Mac.Write(junk); // unicast garbage straight at the endpoint
                junk[12] = 0x08;
                junk[13] = (byte)(i % 4 == 0 ? 0x00 : 0x06); // claims IPv4 or ARP
            }

            frames.Add(junk);
        }

        var arp = TestFrames.Ethernet(MacAddress.Broadcast, hostileMac, EtherTypes.Arp, 28);
        var spoofed = TestFrames.Ethernet(MacAddress.Broadcast, LabNetwork.VmMac, 0x0800, 100);
        for (int i = 0; i < 200_000; i++)
        {
            hostile.Transmit(frames[i % frames.Count], FrameOffload.None);
            hostile.Transmit(arp, FrameOffload.None);
            hostile.Transmit(spoofed, FrameOffload.None);
        }

        // the VM and the endpoint still talk
        var http = await lab.Network.HttpProbeAsync("web_1", 80, new Probes.HttpProbe { ExpectedBody = "fine" }, Timeout);
        Assert.True(http.Success, http.ToString());
        Assert.True((await lab.Network.PingAsync("web_1", Timeout)).Success);

        var stats = hostile.Statistics;
        Assert.Equal(200_000, stats.DroppedSpoofed);
        Assert.True(stats.DroppedArpRateLimited > 150_000, stats.ToString());
        Assert.True(lab.Network.Endpoint.Statistics.DroppedMalformed + lab.Network.Endpoint.Statistics.DroppedChecksum > 0);
        foreach (var port in lab.Network.Switch.Ports)
        {
            Assert.True(port.QueuedBytes <= lab.Network.Options.Switch.QueueBytes);
        }

        long after = GC.GetTotalMemory(forceFullCollection: true);
        Assert.True(after - before < 64L << 20, $"memory grew by {(after - before) >> 20} MiB");
    }

    [Fact]
    public async Task SynFloodIsBoundedByTheBacklog()
    {
        using var pair = new EndpointPair();
        using var listener = pair.B.ListenTcp(80, backlog: 8);
        var flooderMac = MacAddress.Parse("52:54:00:00:09:99");
        using var flooder = pair.Switch.CreatePort("flooder", flooderMac); // never answers the SYN-ACKs
        for (int i = 0; i < 1000; i++)
        {
            var syn = TestFrames.TcpV4(pair.B.Mac, flooderMac, [10, 9, 0, 99], [10, 9, 0, 2], (uint)i, 0x02, [], partial: false);
            syn[34] = (byte)(i >> 8); // a different source port each time
            syn[35] = (byte)i;
            syn[36] = 0;
            syn[37] = 80;
            FixTcpChecksum(syn);
            Assert.True(flooder.Transmit(syn, FrameOffload.None));
        }

        await EndpointTests.Wait(() => pair.B.Statistics.TcpResetsSent >= 992);
        Assert.True(pair.B.TcpConnectionCount <= 8, $"{pair.B.TcpConnectionCount} half-open connections");
        Assert.Equal(992, pair.B.Statistics.TcpResetsSent);

        // a real client still gets in once the half-open ones time out or are reset... and at once on another port
        using var other = pair.B.ListenTcp(81);
        var accept = other.AcceptAsync();
        await using var client = await pair.A.ConnectTcpAsync(EndpointPair.AddressB, 81, Timeout);
        await using var server = await accept.WaitAsync(Timeout);
    }

    [Fact]
    public async Task ASlowReaderClosesTheWindowAndTheTransferResumesWhenItReads()
    {
        using var pair = new EndpointPair(tune: o => o with { TcpReceiveBuffer = 16 * 1024, TcpSendBuffer = 64 * 1024 });
        using var listener = pair.B.ListenTcp(90);
        var accept = listener.AcceptAsync();
        await using var client = await pair.A.ConnectTcpAsync(EndpointPair.AddressB, 90, Timeout);
        await using var server = await accept.WaitAsync(Timeout);
        var data = new byte[1 << 20];
        new Random(9).NextBytes(data);
        var send = Task.Run(async () =>
        {
            await client.WriteAsync(data);
            client.ShutdownWrite();
        });
        await Task.Delay(1500); // nobody reads: the window closes, the sender probes
        Assert.False(send.IsCompleted);
        var received = await EndpointTests.ReadAllAsync(server, data.Length).WaitAsync(TimeSpan.FromSeconds(60));
        await send.WaitAsync(Timeout);
        Assert.True(data.AsSpan().SequenceEqual(received));
    }

    private static void FixTcpChecksum(byte[] frame)
    {
        frame[50] = 0;
        frame[51] = 0;
        ulong pseudo = TestFrames.Pseudo(frame[26..30], frame[30..34], EtherTypes.Tcp, frame.Length - 34);
        ushort sum = TestFrames.Checksum(frame.AsSpan(34), pseudo);
        frame[50] = (byte)(sum >> 8);
        frame[51] = (byte)sum;
    }
}
