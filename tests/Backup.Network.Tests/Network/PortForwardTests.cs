using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Backup.Network.Forwarding;
using Backup.Network.Tests.Endpoint;
using Xunit.Abstractions;

namespace Backup.Network.Tests.Network;

public sealed class PortForwardTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData("tcp:127.0.0.1:2222-:22", "127.0.0.1", 2222, 22)]
    [InlineData("tcp::8080-:80", "127.0.0.1", 8080, 80)]
    [InlineData("tcp:[::1]:5432-:5432", "::1", 5432, 5432)]
    public void ParsesForwards(string text, string host, int hostPort, int guestPort)
    {
        var spec = ForwardSpec.Parse(text);
        Assert.Equal(IPAddress.Parse(host), spec.HostAddress);
        Assert.Equal(hostPort, spec.HostPort);
        Assert.Equal(guestPort, spec.GuestPort);
        Assert.Equal(spec, ForwardSpec.Parse(spec.ToString()));
    }

    [Theory]
    [InlineData("tcp:0.0.0.0:2222-:22", "loopback")]
    [InlineData("tcp:192.168.1.5:2222-:22", "loopback")]
    [InlineData("udp:127.0.0.1:53-:53", "only tcp")]
    [InlineData("tcp:127.0.0.1:2222", "HOSTPORT-:GUESTPORT")]
    [InlineData("tcp:127.0.0.1:x-:22", "not a number")]
    [InlineData("tcp:127.0.0.1:2222-:0", "1-65535")]
    public void RefusesBadForwardsNamingWhy(string text, string why)
    {
        var e = Assert.Throws<FormatException>(() => ForwardSpec.Parse(text));
        Assert.Contains(why, e.Message, StringComparison.Ordinal);
        Assert.Contains(text, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BridgesAHostClientToAGuestServerByteExactWithHalfClose()
    {
        using var lab = new LabNetwork();
        lab.StartEcho(7);
        using var forward = lab.Network.AddForward("web_1", ForwardSpec.Parse("tcp:127.0.0.1:0-:7"));
        using var client = new TcpClient();
        await client.ConnectAsync(forward.HostEndPoint);
        var stream = client.GetStream();
        var data = new byte[6 << 20];
        new Random(7).NextBytes(data);
        var send = Task.Run(async () =>
        {
            await stream.WriteAsync(data);
            client.Client.Shutdown(SocketShutdown.Send);
        });
        var echoed = await EndpointTests.ReadAllAsync(stream, data.Length).WaitAsync(Timeout);
        await send;
        Assert.Equal(data.Length, echoed.Length);
        Assert.True(data.AsSpan().SequenceEqual(echoed));
        await EndpointTests.Wait(() => forward.Active == 0);
        Assert.Equal(1, forward.Accepted);
        Assert.Equal(0, forward.Failed);
    }

    [Fact]
    public async Task ClosesTheHostConnectionWhenTheGuestRefusesOrHasNoAddressOrNeverAnswers()
    {
        using var lab = new LabNetwork(forwardTimeout: TimeSpan.FromMilliseconds(700));
        using var refused = lab.Network.AddForward("web_1", ForwardSpec.Parse("tcp:127.0.0.1:0-:9"));
        await AssertClosedAsync(refused.HostEndPoint);
        await EndpointTests.Wait(() => refused.Failed == 1);
        Assert.Contains("refused", refused.LastFailure, StringComparison.Ordinal);

        var mac = Backup.Network.Ethernet.MacAddress.Parse("52:54:00:aa:00:02");
        using var port = lab.Network.Attach("no-lease", mac);
        using var noLease = lab.Network.AddForward("no-lease", ForwardSpec.Parse("tcp:127.0.0.1:0-:80"));
        await AssertClosedAsync(noLease.HostEndPoint);
        await EndpointTests.Wait(() => noLease.Failed == 1);
        Assert.Contains("no DHCP lease or reservation", noLease.LastFailure, StringComparison.Ordinal);

        lab.Vm.Dispose(); // the guest is gone (its MAC still in the ARP cache): the SYN goes unanswered
        var watch = Stopwatch.StartNew();
        await AssertClosedAsync(refused.HostEndPoint);
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(600), $"closed after {watch.Elapsed}");
        await EndpointTests.Wait(() => refused.Failed == 2);
        Assert.Contains("no answer from", refused.LastFailure, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MeasuresHostToGuestThroughputThroughAForward()
    {
        using var lab = new LabNetwork();
        lab.StartHttp(1, 200, ""); // keeps the VM endpoint busy with nothing: only the sink below matters
        var sink = lab.Vm.ListenTcp(5001);
        long received = 0;
        var drain = Task.Run(async () =>
        {
            await using var s = await sink.AcceptAsync();
            var buffer = new byte[256 * 1024];
            int n;
            while ((n = await s.ReadAsync(buffer)) > 0)
            {
                received += n;
            }
        });
        using var forward = lab.Network.AddForward("web_1", ForwardSpec.Parse("tcp:127.0.0.1:0-:5001"));
        using var client = new TcpClient();
        await client.ConnectAsync(forward.HostEndPoint);
        var chunk = new byte[256 * 1024];
        const long total = 512L << 20;
        var watch = Stopwatch.StartNew();
        for (long sent = 0; sent < total; sent += chunk.Length)
        {
            await client.GetStream().WriteAsync(chunk);
        }

        client.Client.Shutdown(SocketShutdown.Send);
        await drain.WaitAsync(TimeSpan.FromMinutes(2));
        Assert.Equal(total, received);
        output.WriteLine($"host-to-guest TCP through a forward: {total / (1024.0 * 1024.0) / watch.Elapsed.TotalSeconds:0} MiB/s (512 MiB in {watch.Elapsed.TotalSeconds:0.00} s)");
        sink.Dispose();
    }

    private static async Task AssertClosedAsync(IPEndPoint endPoint)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(endPoint);
        var buffer = new byte[16];
        try
        {
            int n = await client.GetStream().ReadAsync(buffer).AsTask().WaitAsync(Timeout);
            Assert.Equal(0, n);
        }
        catch (IOException)
        {
            // reset: closed as well
        }
    }
}
