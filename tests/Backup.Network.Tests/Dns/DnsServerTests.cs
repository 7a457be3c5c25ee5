using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Backup.Network.Endpoint;
using Backup.Network.Tests.Network;

namespace Backup.Network.Tests.Dns;

public sealed class DnsServerTests : IDisposable
{
    private readonly LabNetwork _lab = new("dns-test");
    private readonly BlockingCollection<byte[]> _replies = [];
    private readonly IDisposable _bind;
    private ushort _id = 100;

    public DnsServerTests()
    {
        _bind = _lab.Vm.BindUdp(40000, d => _replies.Add(d.Payload));
    }

    public void Dispose()
    {
        _bind.Dispose();
        _lab.Dispose();
        _replies.Dispose();
    }

    [Theory]
    [InlineData("web-1")]
    [InlineData("WEB-1.lab")]
    [InlineData("web-1.lab.")]
    public async Task AnswersRegisteredVmNamesBareAndUnderTheDomain(string name)
    {
        var query = Query(name, 1);
        var reply = await QueryAsync(query);
        Assert.Equal(0, reply[3] & 0x0F); // NOERROR
        Assert.Equal(0x84, reply[2] & 0x84); // a response, authoritative
        Assert.Equal(1, BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(6)));
        Assert.Equal(_lab.VmAddress, new IPAddress(reply.AsSpan(reply.Length - 4)));
        Assert.Equal(query[12..], reply[12..query.Length]); // the question echoed as asked, case included
    }

    [Fact]
    public async Task UnknownNamesAreNxdomainAndOtherTypesNodata()
    {
        var nx = await QueryAsync(Query("example.com", 1));
        Assert.Equal(3, nx[3] & 0x0F);
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(nx.AsSpan(6)));
        var aaaa = await QueryAsync(Query("web-1", 28));
        Assert.Equal(0, aaaa[3] & 0x0F);
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(aaaa.AsSpan(6)));
        Assert.Equal(1, _lab.Network.Dns.NameErrors);
    }

    [Fact]
    public async Task AnswersPtrAndTheApplianceItself()
    {
        var gateway = await QueryAsync(Query("appliance.lab", 1));
        Assert.Equal(_lab.Network.GatewayAddress, new IPAddress(gateway.AsSpan(gateway.Length - 4)));
        byte[] v = _lab.VmAddress.GetAddressBytes();
        var ptr = await QueryAsync(Query($"{v[3]}.{v[2]}.{v[1]}.{v[0]}.in-addr.arpa", 12));
        Assert.Equal(0, ptr[3] & 0x0F);
        Assert.Contains("web-1", Encoding.ASCII.GetString(ptr), StringComparison.Ordinal);
    }

    [Fact]
    public async Task MalformedQueriesAreIgnoredAndCountedAndTheServerGoesOn()
    {
        var loop = Query("a", 1);
        loop[12] = 0xC0; // a pointer to itself
        loop[13] = 12;
        var forward = Query("a", 1);
        forward[12] = 0xC0; // a pointer past the end
        forward[13] = 200;
        var truncated = Query("web-1", 1)[..15];
        var longLabel = Query("web-1", 1);
        longLabel[12] = 63; // a label longer than the message
        var response = Query("web-1", 1);
        response[2] |= 0x80; // a response, not a query
        var twoQuestions = Query("web-1", 1);
        twoQuestions[5] = 2;
        var random = new byte[100];
        new Random(3).NextBytes(random);
        foreach (var bad in new[] { loop, forward, truncated, longLabel, response, twoQuestions, random, new byte[5] })
        {
            await SendAsync(bad);
        }

        var good = await QueryAsync(Query("web-1", 1));
        Assert.Equal(_lab.VmAddress, new IPAddress(good.AsSpan(good.Length - 4)));
        Assert.Equal(8, _lab.Network.Dns.MalformedIgnored);
        Assert.Empty(_replies); // nothing came back for the malformed ones
    }

    [Fact]
    public async Task LoopsThroughBackwardPointersAreCutOff()
    {
        var q = new List<byte>(Query("web-1", 1)[..12]);
        q.AddRange([5, .. "web-1"u8.ToArray(), 0xC0, 12]); // "web-1" then pointer to itself's start: a loop through a backward pointer
        q.AddRange([0, 1, 0, 1]);
        await SendAsync([.. q]);
        var ok = await QueryAsync(Query("web-1", 1));
        Assert.Equal(0, ok[3] & 0x0F);
        Assert.Equal(1, _lab.Network.Dns.MalformedIgnored); // "web-1.web-1.web-1..." ran out of hops or length: ignored
    }

    private byte[] Query(string name, ushort type)
    {
        var q = new List<byte>();
        q.AddRange([(byte)(_id >> 8), (byte)_id, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
        _id++;
        foreach (string label in name.Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            q.Add((byte)label.Length);
            q.AddRange(Encoding.ASCII.GetBytes(label));
        }

        q.AddRange([0, (byte)(type >> 8), (byte)type, 0, 1]);
        return [.. q];
    }

    private async Task SendAsync(byte[] query)
    {
        await _lab.Vm.ResolveAsync(_lab.Network.GatewayAddress, TimeSpan.FromSeconds(5));
        Assert.True(_lab.Vm.TryGetCachedMac(ApplianceEndpoint.ToUInt32(_lab.Network.GatewayAddress), out var mac));
        _lab.Vm.SendUdp(mac, _lab.Network.GatewayAddress, 53, 40000, query);
    }

    private async Task<byte[]> QueryAsync(byte[] query)
    {
        await SendAsync(query);
        Assert.True(_replies.TryTake(out var reply, TimeSpan.FromSeconds(5)), "no DNS reply");
        Assert.Equal(query[..2], reply[..2]);
        return reply;
    }
}
