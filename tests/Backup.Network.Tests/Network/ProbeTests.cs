using System.Net;
using Backup.Network.Endpoint;
using Backup.Network.Probes;

namespace Backup.Network.Tests.Network;

public sealed class ProbeTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task PingTcpAndHttpSucceedWithTimings()
    {
        using var lab = new LabNetwork();
        lab.StartHttp(80, 200, "database ready");
        var ping = await lab.Network.PingAsync("web_1", Timeout);
        Assert.True(ping.Success, ping.ToString());
        Assert.True(ping.Elapsed > TimeSpan.Zero);
        var tcp = await lab.Network.TcpProbeAsync("web_1", 80, Timeout);
        Assert.True(tcp.Success, tcp.ToString());
        var http = await lab.Network.HttpProbeAsync("web_1", 80, new HttpProbe { ExpectedStatus = 200, ExpectedBody = "ready" }, Timeout);
        Assert.True(http.Success, http.ToString());
        Assert.Equal(200, http.StatusCode);
        Assert.Equal("database ready", http.BodyPrefix);
    }

    [Fact]
    public async Task EachFailureHasItsReason()
    {
        using var lab = new LabNetwork();
        lab.StartHttp(80, 503, "starting");
        lab.StartHttp(81, null, "");
        lab.StartHttp(82, 200, "hello");

        var status = await lab.Network.HttpProbeAsync("web_1", 80, new HttpProbe(), Timeout);
        Assert.Equal(NetworkFailure.UnexpectedResponse, status.Failure);
        Assert.Equal(503, status.StatusCode);
        Assert.Contains("status 503", status.Reason, StringComparison.Ordinal);

        var body = await lab.Network.HttpProbeAsync("web_1", 82, new HttpProbe { ExpectedBody = "ready" }, Timeout);
        Assert.Equal(NetworkFailure.UnexpectedResponse, body.Failure);
        Assert.Contains("lacks 'ready'", body.Reason, StringComparison.Ordinal);

        var silent = await lab.Network.HttpProbeAsync("web_1", 81, new HttpProbe(), TimeSpan.FromMilliseconds(500));
        Assert.Equal(NetworkFailure.Timeout, silent.Failure);

        var refused = await lab.Network.TcpProbeAsync("web_1", 5432, Timeout);
        Assert.Equal(NetworkFailure.Refused, refused.Failure);
        Assert.Contains("refused", refused.Reason, StringComparison.Ordinal);

        using var noLeasePort = lab.Network.Attach("db", Backup.Network.Ethernet.MacAddress.Parse("52:54:00:aa:00:03"));
        var noLease = await lab.Network.PingAsync("db", Timeout);
        Assert.Equal(NetworkFailure.NoLease, noLease.Failure);
        Assert.Contains("no DHCP lease", noLease.Reason, StringComparison.Ordinal);
        Assert.Equal(NetworkFailure.NoLease, (await lab.Network.PingAsync("not-attached", Timeout)).Failure);

        using var offPort = lab.Network.Attach("off", Backup.Network.Ethernet.MacAddress.Parse("52:54:00:aa:00:04"), lab.Network.Subnet.Host(60));
        var noArp = await lab.Network.TcpProbeAsync("off", 22, TimeSpan.FromMilliseconds(400));
        Assert.Equal(NetworkFailure.NoArpAnswer, noArp.Failure);

        var garbage = await lab.Network.Probes.HttpGetAsync(lab.VmAddress, 82, new HttpProbe { Path = "/" }, Timeout);
        Assert.True(garbage.Success); // sanity: the same server answers a plain probe
    }

    [Fact]
    public async Task PingTimesOutWhenTheHostAnswersArpButNotEcho()
    {
        using var lab = new LabNetwork();
        Assert.NotNull(await lab.Network.Endpoint.ResolveAsync(lab.VmAddress, Timeout));
        lab.Vm.Dispose();
        var ping = await lab.Network.Probes.PingAsync(lab.VmAddress, TimeSpan.FromMilliseconds(300));
        Assert.Equal(NetworkFailure.Timeout, ping.Failure);
        Assert.Contains("no echo reply", ping.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DetachedVmLeavesDnsAndItsForwardsAndKeepsItsReservation()
    {
        using var lab = new LabNetwork();
        var forward = lab.Network.AddForward("web_1", Forwarding.ForwardSpec.Parse("tcp:127.0.0.1:0-:80"));
        Assert.NotNull(lab.Network.Dns.Resolve("web-1"));
        Assert.True(lab.Network.Detach("web_1"));
        Assert.False(lab.Network.Detach("web_1"));
        Assert.Null(lab.Network.Dns.Resolve("web-1.lab"));
        Assert.Equal(NetworkFailure.NoLease, (await lab.Network.PingAsync("web_1", Timeout)).Failure);
        using var client = new System.Net.Sockets.TcpClient();
        await Assert.ThrowsAnyAsync<System.Net.Sockets.SocketException>(() => client.ConnectAsync(forward.HostEndPoint));
        using var again = lab.Network.Attach("web_1", LabNetwork.VmMac);
        Assert.Equal(lab.VmAddress, lab.Network.AddressOf("web_1"));
    }

    [Fact]
    public void NetworkNamesFollowTheRules()
    {
        Assert.True(NetworkName.IsValid("lab"));
        Assert.True(NetworkName.IsValid("dr-drill-2"));
        foreach (string bad in new[] { "", "Lab", "-lab", "lab-", "la_b", "la.b", new string('a', 64) })
        {
            var e = Assert.Throws<ArgumentException>(() => NetworkName.Validate(bad));
            Assert.Contains($"'{bad}'", e.Message, StringComparison.Ordinal);
        }

        Assert.Equal("web-1", NetworkName.ToDnsLabel("Web_1"));
        Assert.Throws<ArgumentException>(() => new VirtualNetwork(new VirtualNetworkOptions { Name = "Bad Name" }));
    }

    [Fact]
    public void NetworksAreIsolatedAndGetStableSubnets()
    {
        using var a = new VirtualNetwork(new VirtualNetworkOptions { Name = "net-a" });
        using var b = new VirtualNetwork(new VirtualNetworkOptions { Name = "net-b" });
        using var again = new VirtualNetwork(new VirtualNetworkOptions { Name = "net-a-again", Subnet = Backup.Network.Addressing.Ipv4Subnet.Parse("10.200.0.0/24") });
        Assert.Equal(IPAddress.Parse("10.200.0.1"), again.GatewayAddress);
        Assert.NotSame(a.Switch, b.Switch);
        Assert.Equal(a.Subnet, new VirtualNetwork(new VirtualNetworkOptions { Name = "net-a" }).Subnet);
    }
}
