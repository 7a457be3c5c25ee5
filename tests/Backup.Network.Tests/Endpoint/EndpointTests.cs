using System.Diagnostics;
using System.Net;
using Backup.Network.Endpoint;
using Backup.Network.Ethernet;
using Backup.Network.Tcp;
using Xunit.Abstractions;

namespace Backup.Network.Tests.Endpoint;

public sealed class EndpointTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task ResolvesArpAndAnswersPings()
    {
        using var pair = new EndpointPair();
        var mac = await pair.A.ResolveAsync(EndpointPair.AddressB, Timeout);
        Assert.Equal(pair.B.Mac, mac);
        var rtt = await pair.A.PingAsync(EndpointPair.AddressB, Timeout);
        Assert.True(rtt < Timeout);
        Assert.True(pair.B.Statistics.EchoRepliesSent >= 1);
        Assert.True(pair.B.Statistics.ArpRepliesSent >= 1);
    }

    [Fact]
    public async Task NoArpAnswerAndNotOnSubnetAreReportedAsSuch()
    {
        using var pair = new EndpointPair();
        Assert.Null(await pair.A.ResolveAsync(IPAddress.Parse("10.9.0.77"), TimeSpan.FromMilliseconds(300)));
        var e = await Assert.ThrowsAsync<NetworkException>(() => pair.A.PingAsync(IPAddress.Parse("10.9.0.77"), TimeSpan.FromMilliseconds(300)));
        Assert.Equal(NetworkFailure.NoArpAnswer, e.Failure);
        var e2 = await Assert.ThrowsAsync<NetworkException>(() => pair.A.ConnectTcpAsync(IPAddress.Parse("192.168.1.1"), 80, Timeout));
        Assert.Equal(NetworkFailure.NotOnSubnet, e2.Failure);
    }

    [Fact]
    public async Task CarriesUdpBothWays()
    {
        using var pair = new EndpointPair();
        var got = new TaskCompletionSource<UdpDatagram>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var bind = pair.B.BindUdp(5000, d => got.TrySetResult(d));
        var mac = await pair.A.ResolveAsync(EndpointPair.AddressB, Timeout);
        Assert.True(pair.A.SendUdp(mac!.Value, EndpointPair.AddressB, 5000, 4000, "hello"u8));
        var d = await got.Task.WaitAsync(Timeout);
        Assert.Equal("hello", System.Text.Encoding.ASCII.GetString(d.Payload));
        Assert.Equal(EndpointPair.AddressA, d.SourceAddress);
        Assert.Equal(4000, d.SourcePort);
        Assert.Equal(pair.A.Mac, d.SourceMac);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task TransfersSeveralMebibytesByteExactBothWays(bool offloads)
    {
        using var pair = new EndpointPair(tune: o => offloads ? o : o with { UseOffloads = false, AcceptedOffloads = OffloadCapabilities.None });
        await TransferAsync(pair, 8 << 20, seed: 1);
        Assert.Equal(0, pair.A.Statistics.DroppedChecksum + pair.B.Statistics.DroppedChecksum);
        if (offloads)
        {
            Assert.Equal(0, pair.PortB.Statistics.FramesSegmented);
        }
        else
        {
            Assert.Equal(0, pair.PortB.Statistics.FramesSegmented + pair.PortB.Statistics.ChecksumsCompleted);
        }
    }

    [Fact]
    public async Task SegmentationIsFinishedByTheSwitchForAReceiverWithoutOffloads()
    {
        using var pair = new EndpointPair(tune: o => o.Address.Equals(EndpointPair.AddressB) ? o with { AcceptedOffloads = OffloadCapabilities.None } : o);
        await TransferAsync(pair, 2 << 20, seed: 2);
        Assert.True(pair.PortB.Statistics.FramesSegmented > 0);
        Assert.Equal(0, pair.B.Statistics.DroppedChecksum);
    }

    [Theory]
    [InlineData(11, 0.02, 0.02)]
    [InlineData(12, 0.05, 0.05)]
    public async Task RetransmitsThroughALossyReorderingLink(int seed, double drop, double reorder)
    {
        LossyLink? lossyA = null, lossyB = null;
        using var pair = new EndpointPair(
            l => lossyA = new LossyLink(l, seed, drop, reorder),
            l => lossyB = new LossyLink(l, seed + 100, drop, reorder),
            o => o with { UseOffloads = false });
        await TransferAsync(pair, 3 << 20, seed);
        Assert.True(lossyA!.Dropped > 0 && lossyB!.Dropped > 0);
        Assert.True(pair.A.Statistics.TcpRetransmissions + pair.B.Statistics.TcpRetransmissions > 0);
        output.WriteLine($"dropped {lossyA.Dropped}+{lossyB.Dropped}, reordered {lossyA.Reordered}+{lossyB.Reordered}, retransmissions {pair.A.Statistics.TcpRetransmissions}+{pair.B.Statistics.TcpRetransmissions}");
    }

    [Fact]
    public async Task ConnectToAClosedPortIsRefusedAndResetIsReported()
    {
        using var pair = new EndpointPair();
        var e = await Assert.ThrowsAsync<NetworkException>(() => pair.A.ConnectTcpAsync(EndpointPair.AddressB, 81, Timeout));
        Assert.Equal(NetworkFailure.Refused, e.Failure);

        using var listener = pair.B.ListenTcp(82);
        var accept = listener.AcceptAsync();
        await using var client = await pair.A.ConnectTcpAsync(EndpointPair.AddressB, 82, Timeout);
        await using var server = await accept.WaitAsync(Timeout);
        server.Abort();
        var buffer = new byte[10];
        var e2 = await Assert.ThrowsAsync<NetworkException>(async () => await client.ReadAsync(buffer).AsTask().WaitAsync(Timeout));
        Assert.Equal(NetworkFailure.Reset, e2.Failure);
    }

    [Fact]
    public async Task HalfCloseLetsThePeerAnswerAfterOurFin()
    {
        using var pair = new EndpointPair();
        using var listener = pair.B.ListenTcp(83);
        var accept = listener.AcceptAsync();
        await using var client = await pair.A.ConnectTcpAsync(EndpointPair.AddressB, 83, Timeout);
        await using var server = await accept.WaitAsync(Timeout);
        await client.WriteAsync("question"u8.ToArray());
        client.ShutdownWrite();
        var got = await ReadAllAsync(server, 1 << 20);
        Assert.Equal("question", System.Text.Encoding.ASCII.GetString(got));
        await server.WriteAsync("answer"u8.ToArray());
        server.ShutdownWrite();
        Assert.Equal("answer", System.Text.Encoding.ASCII.GetString(await ReadAllAsync(client, 1 << 20)));
        await Wait(() => client.State is TcpState.TimeWait or TcpState.Closed && server.State == TcpState.Closed);
    }

    [Fact]
    public async Task ConnectToASilentHostTimesOut()
    {
        using var pair = new EndpointPair();
        // B knows A is there but drops everything after ARP: its port goes down once A has resolved it
        Assert.NotNull(await pair.A.ResolveAsync(EndpointPair.AddressB, Timeout));
        pair.B.Dispose();
        var e = await Assert.ThrowsAsync<NetworkException>(() => pair.A.ConnectTcpAsync(EndpointPair.AddressB, 80, TimeSpan.FromMilliseconds(500)));
        Assert.Equal(NetworkFailure.Timeout, e.Failure);
        await Wait(() => pair.A.TcpConnectionCount == 0);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task MeasuresThroughputThroughTheSwitch(bool receiverOffloads)
    {
        using var pair = new EndpointPair(tune: o => receiverOffloads || !o.Address.Equals(EndpointPair.AddressB) ? o : o with { AcceptedOffloads = OffloadCapabilities.None });
        using var listener = pair.B.ListenTcp(9001);
        var accept = listener.AcceptAsync();
        await using var client = await pair.A.ConnectTcpAsync(EndpointPair.AddressB, 9001, Timeout);
        await using var server = await accept.WaitAsync(Timeout);
        const long size = 512L << 20;
        var chunk = new byte[256 * 1024];
        long received = 0;
        var watch = Stopwatch.StartNew();
        var drain = Task.Run(async () =>
        {
            var buffer = new byte[256 * 1024];
            int n;
            while ((n = await server.ReadAsync(buffer)) > 0)
            {
                received += n;
            }
        });
        for (long sent = 0; sent < size; sent += chunk.Length)
        {
            await client.WriteAsync(chunk);
        }

        client.ShutdownWrite();
        await drain.WaitAsync(TimeSpan.FromMinutes(2));
        Assert.Equal(size, received);
        double mib = size / (1024.0 * 1024.0);
        output.WriteLine($"endpoint-to-endpoint TCP through the switch, receiver {(receiverOffloads ? "taking super-frames" : "without offloads (the switch segments)")}: {mib / watch.Elapsed.TotalSeconds:0} MiB/s ({mib:0} MiB in {watch.Elapsed.TotalSeconds:0.00} s); retransmissions {pair.A.Statistics.TcpRetransmissions}, frames {pair.A.Statistics.FramesSent}, switch drops {pair.PortB.Statistics.DroppedQueueFull}");
    }

    internal static async Task TransferAsync(EndpointPair pair, int size, int seed, bool verify = true)
    {
        var data = new byte[size];
        new Random(seed).NextBytes(data);
        using var listener = pair.B.ListenTcp(9000);
        var accept = listener.AcceptAsync();
        await using var client = await pair.A.ConnectTcpAsync(EndpointPair.AddressB, 9000, Timeout);
        await using var server = await accept.WaitAsync(Timeout);
        var send = Task.Run(async () =>
        {
            for (int i = 0; i < data.Length; i += 65536)
            {
                await client.WriteAsync(data.AsMemory(i, Math.Min(65536, data.Length - i)));
            }

            client.ShutdownWrite();
        });
        byte[] received;
        try
        {
            received = await ReadAllAsync(server, size).WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            Assert.Fail($"transfer stalled: client {client}; server {server}");
            throw;
        }
        await send.WaitAsync(Timeout);
        Assert.Equal(size, received.Length);
        if (verify)
        {
            Assert.True(data.AsSpan().SequenceEqual(received), "received bytes differ from sent");
        }

        // and back the other way, smaller
        var back = data.AsMemory(0, Math.Min(size, 1 << 20));
        await server.WriteAsync(back);
        server.ShutdownWrite();
        var echoed = await ReadAllAsync(client, back.Length).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(back.Span.SequenceEqual(echoed));
    }

    internal static async Task<byte[]> ReadAllAsync(Stream stream, int expected)
    {
        var result = new MemoryStream(expected);
        var buffer = new byte[65536];
        int n;
        while ((n = await stream.ReadAsync(buffer)) > 0)
        {
            result.Write(buffer, 0, n);
        }

        return result.ToArray();
    }

    internal static async Task Wait(Func<bool> condition)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(watch.Elapsed < Timeout, "condition not reached in time");
            await Task.Delay(20);
        }
    }
}
