using System.Net;
using Backup.Network.Addressing;
using Backup.Network.Dhcp;
using Backup.Network.Endpoint;
using Backup.Network.Ethernet;
using Backup.Network.Switching;

namespace Backup.Network.Tests.Dhcp;

public sealed class DhcpServerTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);
    private static readonly MacAddress ServerMac = MacAddress.Parse("52:54:00:ff:00:01");
    private static readonly MacAddress ClientMac = MacAddress.Parse("52:54:00:12:34:56");
    private readonly string _folder = Directory.CreateTempSubdirectory("dhcp-test").FullName;
    private readonly VirtualSwitch _switch = new("lab");
    private readonly Ipv4Subnet _subnet = Ipv4Subnet.Parse("10.7.0.0/24");

    private string LeaseFile => Path.Combine(_folder, "leases.json");

    public void Dispose()
    {
        _switch.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task DiscoverOfferRequestAckThenLeasePersistsAcrossRestart()
    {
        var (endpoint, server) = Start();
        using var port = _switch.CreatePort("vm", ClientMac);
        var client = new RawDhcpClient(port, ClientMac);

        Assert.True(client.Send(client.Message(1)));
        var offer = await client.ReceiveAsync(Timeout);
        Assert.Equal(2, offer.Type);
        Assert.Equal(IPAddress.Parse("10.7.0.10"), offer.YourAddress);
        Assert.Equal(MacAddress.Broadcast, offer.DestinationMac); // the broadcast flag was set
        Assert.Equal([10, 7, 0, 1], offer.Options[54]);
        Assert.Equal([255, 255, 255, 0], offer.Options[1]);
        Assert.Equal([10, 7, 0, 1], offer.Options[3]);
        Assert.Equal([10, 7, 0, 1], offer.Options[6]);
        Assert.Equal("lab"u8.ToArray(), offer.Options[15]);
        Assert.True(offer.Length >= 300);

        Assert.True(client.Send(client.Message(3, requested: 0x0A07000A, server: 0x0A070001, hostname: "Web-1.example")));
        var ack = await client.ReceiveAsync(Timeout);
        Assert.Equal(5, ack.Type);
        Assert.Equal(IPAddress.Parse("10.7.0.10"), ack.YourAddress);
        Assert.Equal(3600u, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(ack.Options[51]));
        Assert.Equal(IPAddress.Parse("10.7.0.10"), server.AddressOf(ClientMac));
        Assert.Equal(IPAddress.Parse("10.7.0.10"), server.AddressOfHostname("web-1"));
        Assert.Contains("\"web-1\"", File.ReadAllText(LeaseFile), StringComparison.Ordinal);

        server.Dispose();
        endpoint.Dispose();
        var (endpoint2, server2) = Start();
        Assert.Equal(IPAddress.Parse("10.7.0.10"), server2.AddressOf(ClientMac));
        Assert.Equal("web-1", Assert.Single(server2.Leases).Hostname);

        // renewing (unicast, ciaddr set, no broadcast flag) is answered unicast to the client
        var renew = new RawDhcpClient(port, ClientMac);
        Assert.True(renew.Send(renew.Message(3, broadcast: false, ciaddr: 0x0A07000A), 0x0A07000A, 0x0A070001, ServerMac));
        var renewed = await renew.ReceiveAsync(Timeout);
        Assert.Equal(5, renewed.Type);
        Assert.Equal(ClientMac, renewed.DestinationMac);
        Assert.Equal(IPAddress.Parse("10.7.0.10"), renewed.Destination);
        server2.Dispose();
        endpoint2.Dispose();
    }

    [Fact]
    public async Task ReservationWinsAndOthersGetNakForItWithoutBroadcastFlagRepliesAreUnicast()
    {
        var (endpoint, server) = Start();
        server.Reserve(ClientMac, IPAddress.Parse("10.7.0.50"));
        using var port = _switch.CreatePort("vm", ClientMac);
        var client = new RawDhcpClient(port, ClientMac);
        client.Send(client.Message(1, broadcast: false));
        var offer = await client.ReceiveAsync(Timeout);
        Assert.Equal(IPAddress.Parse("10.7.0.50"), offer.YourAddress);
        Assert.Equal(ClientMac, offer.DestinationMac);
        Assert.Equal(IPAddress.Parse("10.7.0.50"), offer.Destination);
        Assert.Equal(IPAddress.Parse("10.7.0.50"), server.AddressOf(ClientMac)); // a reservation resolves before any lease

        var otherMac = MacAddress.Parse("52:54:00:12:34:57");
        using var otherPort = _switch.CreatePort("other", otherMac);
        var other = new RawDhcpClient(otherPort, otherMac);
        other.Send(other.Message(3, requested: 0x0A070032));
        var nak = await other.ReceiveAsync(Timeout);
        Assert.Equal(6, nak.Type);
        Assert.Equal(MacAddress.Broadcast, nak.DestinationMac);
        server.Dispose();
        endpoint.Dispose();
    }

    [Fact]
    public async Task MalformedAndSpoofedMessagesAreIgnoredAndCounted()
    {
        var (endpoint, server) = Start();
        using var port = _switch.CreatePort("vm", ClientMac);
        var client = new RawDhcpClient(port, ClientMac);
        var good = client.Message(1);
        client.Send(good[..100]);
        var badOption = (byte[])good.Clone();
        badOption[241] = 200; // the message-type option's length runs past the end
        client.Send(badOption);
        var noType = good[..240].Concat(new byte[] { 255 }).ToArray();
        client.Send(noType);
        var random = new byte[400];
        new Random(5).NextBytes(random);
        client.Send(random);
        client.Send(client.Message(1, chaddr: MacAddress.Parse("52:54:00:99:99:99")));
        await EndpointTestsWait(() => server.MalformedIgnored == 4 && server.SpoofedIgnored == 1);
        Assert.Equal(0, server.OffersSent);

        // and the server still works
        client.Send(good);
        Assert.Equal(2, (await client.ReceiveAsync(Timeout)).Type);
        server.Dispose();
        endpoint.Dispose();
    }

    [Fact]
    public async Task PoolExhaustionLeavesDiscoversUnansweredAndCounted()
    {
        var (endpoint, server) = Start(o => o with { PoolFirstHost = 10, PoolLastHost = 11 });
        for (int i = 0; i < 3; i++)
        {
            var mac = new MacAddress(0x5254_0000_7000UL + (ulong)i);
            using var port = _switch.CreatePort($"vm{i}", mac);
            var c = new RawDhcpClient(port, mac);
            c.Send(c.Message(1));
            if (i < 2)
            {
                var offer = await c.ReceiveAsync(Timeout);
                c.Send(c.Message(3, requested: Endpoint(offer.YourAddress)));
                Assert.Equal(5, (await c.ReceiveAsync(Timeout)).Type);
            }
            else
            {
                await EndpointTestsWait(() => server.PoolExhausted == 1);
            }
        }

        server.Dispose();
        endpoint.Dispose();
    }

    [Fact]
    public void CorruptLeaseFileIsAClearError()
    {
        File.WriteAllText(LeaseFile, "{ not json");
        var port = _switch.CreatePort("appliance");
        using var endpoint = new ApplianceEndpoint(port, new EndpointOptions { Mac = ServerMac, Address = IPAddress.Parse("10.7.0.1") });
        var e = Assert.Throws<InvalidDataException>(() => new DhcpServer(endpoint, Options()));
        Assert.Contains(LeaseFile, e.Message, StringComparison.Ordinal);
    }

    private static uint Endpoint(IPAddress a) => ApplianceEndpoint.ToUInt32(a);

    private DhcpServerOptions Options() => new() { Subnet = _subnet, ServerAddress = IPAddress.Parse("10.7.0.1"), LeaseFile = LeaseFile };

    private (ApplianceEndpoint, DhcpServer) Start(Func<DhcpServerOptions, DhcpServerOptions>? tune = null)
    {
        var port = _switch.CreatePort("appliance");
        var endpoint = new ApplianceEndpoint(port, new EndpointOptions { Mac = ServerMac, Address = IPAddress.Parse("10.7.0.1") });
        return (endpoint, new DhcpServer(endpoint, (tune ?? (o => o))(Options())));
    }

    private static Task EndpointTestsWait(Func<bool> condition) => Backup.Network.Tests.Endpoint.EndpointTests.Wait(condition);
}
