using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using Backup.Network.Endpoint;

namespace Backup.Network.Dns;

/// <summary>
/// A network's DNS server on the appliance endpoint's UDP port 53. It answers A queries (and PTR for registered
/// names) for names registered by the caller (VM names) and for what <c>dynamicLookup</c> knows (DHCP client
/// hostnames), bare or under the network's domain; every other name is NXDOMAIN — the network is isolated, there is
/// no upstream. Malformed queries are ignored and counted.
/// </summary>
public sealed class DnsServer : IDisposable
{
    private const uint Ttl = 60;
    private readonly ApplianceEndpoint _endpoint;
    private readonly Func<string, IPAddress?>? _dynamicLookup;
    private readonly ConcurrentDictionary<string, Func<IPAddress?>> _names = new(StringComparer.OrdinalIgnoreCase);
    private readonly IDisposable _binding;
    private long _malformed, _answered, _nxdomain;

    /// <summary>Starts answering on the endpoint.</summary>
    public DnsServer(ApplianceEndpoint endpoint, string domain, Func<string, IPAddress?>? dynamicLookup = null)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentException.ThrowIfNullOrWhiteSpace(domain);
        _endpoint = endpoint;
        Domain = domain.Trim('.').ToLowerInvariant();
        _dynamicLookup = dynamicLookup;
        _binding = endpoint.BindUdp(53, OnQuery);
    }

    /// <summary>The network's domain (names answer bare and as NAME.DOMAIN).</summary>
    public string Domain { get; }

    /// <summary>Queries ignored as malformed.</summary>
    public long MalformedIgnored => Interlocked.Read(ref _malformed);

    /// <summary>Queries answered with a record.</summary>
    public long Answered => Interlocked.Read(ref _answered);

    /// <summary>Queries answered NXDOMAIN.</summary>
    public long NameErrors => Interlocked.Read(ref _nxdomain);

    /// <summary>Answers <paramref name="name"/> with whatever <paramref name="address"/> returns at query time (nothing while null).</summary>
    public void Register(string name, Func<IPAddress?> address)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        _names[name.Trim('.').ToLowerInvariant()] = address;
    }

    /// <summary>Stops answering for <paramref name="name"/>.</summary>
    public void Unregister(string name) => _names.TryRemove(name.Trim('.').ToLowerInvariant(), out _);

    /// <summary>What the server would answer for <paramref name="name"/> (bare or under the domain).</summary>
    public IPAddress? Resolve(string name)
    {
        string n = name.Trim('.').ToLowerInvariant();
        if (n.EndsWith("." + Domain, StringComparison.Ordinal))
        {
            n = n[..^(Domain.Length + 1)];
        }

        if (n.Length == 0 || n.Contains('.', StringComparison.Ordinal))
        {
            return null;
        }

        return _names.TryGetValue(n, out var address) ? address() : _dynamicLookup?.Invoke(n);
    }

    /// <summary>Stops answering.</summary>
    public void Dispose() => _binding.Dispose();

    private void OnQuery(UdpDatagram datagram)
    {
        var q = datagram.Payload.AsSpan();
        if (q.Length < 12 || (q[2] & 0x80) != 0 || BinaryPrimitives.ReadUInt16BigEndian(q[4..]) != 1
            || !DnsMessage.TryReadName(q, 12, out string name, out int next) || next + 4 > q.Length)
        {
            Interlocked.Increment(ref _malformed);
            return;
        }

        ushort id = BinaryPrimitives.ReadUInt16BigEndian(q);
        int opcode = (q[2] >> 3) & 0xF;
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(q[next..]);
        ushort qclass = BinaryPrimitives.ReadUInt16BigEndian(q[(next + 2)..]);
        IPAddress? address = null;
        string? ptrName = null;
        int rcode;
        if (opcode != 0)
        {
            rcode = 4; // NOTIMP
        }
        else if (name.EndsWith(".in-addr.arpa", StringComparison.OrdinalIgnoreCase))
        {
            ptrName = ReverseLookup(name);
            rcode = ptrName is null ? 3 : 0;
        }
        else
        {
            address = Resolve(name);
            rcode = address is null ? 3 : 0;
        }

        bool answerA = address is not null && (type is DnsMessage.TypeA or DnsMessage.TypeAny) && qclass is 1 or 255;
        bool answerPtr = ptrName is not null && (type is DnsMessage.TypePtr or DnsMessage.TypeAny);
        Span<byte> reply = stackalloc byte[512];
        ushort flags = (ushort)(0x8000 | (opcode << 11) | 0x0400 | ((q[2] & 0x01) << 8) | rcode);
        DnsMessage.WriteHeader(reply, id, flags, 1, answerA || answerPtr ? 1 : 0);
        int at = 12 + DnsMessage.WriteName(reply[12..], name);
        BinaryPrimitives.WriteUInt16BigEndian(reply[at..], type);
        BinaryPrimitives.WriteUInt16BigEndian(reply[(at + 2)..], qclass);
        at += 4;
        if (answerA || answerPtr)
        {
            at += WriteAnswer(reply[at..], answerA, address, ptrName);
            Interlocked.Increment(ref _answered);
        }
        else if (rcode == 3)
        {
            Interlocked.Increment(ref _nxdomain);
        }

        _endpoint.SendUdp(datagram.SourceMac, datagram.SourceAddress, datagram.SourcePort, 53, reply[..at]);
    }

    private int WriteAnswer(Span<byte> d, bool a, IPAddress? address, string? ptrName)
    {
        BinaryPrimitives.WriteUInt16BigEndian(d, 0xC00C); // the question's name
        BinaryPrimitives.WriteUInt16BigEndian(d[2..], a ? DnsMessage.TypeA : DnsMessage.TypePtr);
        BinaryPrimitives.WriteUInt16BigEndian(d[4..], 1);
        BinaryPrimitives.WriteUInt32BigEndian(d[6..], Ttl);
        int length = a ? 4 : DnsMessage.WriteName(d[12..], $"{ptrName}.{Domain}");
        if (a)
        {
            address!.TryWriteBytes(d[12..], out _);
        }

        BinaryPrimitives.WriteUInt16BigEndian(d[10..], (ushort)length);
        return 12 + length;
    }

    private string? ReverseLookup(string name)
    {
        string[] parts = name[..^".in-addr.arpa".Length].Split('.');
        if (parts.Length != 4 || !IPAddress.TryParse(string.Join('.', parts.Reverse()), out var address))
        {
            return null;
        }

        return _names.FirstOrDefault(kv => address.Equals(kv.Value())).Key;
    }
}
