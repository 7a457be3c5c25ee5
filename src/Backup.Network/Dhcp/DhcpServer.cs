using System.Buffers.Binary;
using System.Net;
using System.Text;
using Backup.Network.Endpoint;
using Backup.Network.Ethernet;

namespace Backup.Network.Dhcp;

/// <summary>
/// A network's DHCP server (RFC 2131/2132) on the appliance endpoint's UDP port 67: leases keyed by MAC from a pool,
/// reservations (MAC to fixed address), the endpoint as router and DNS server, the client's hostname (option 12)
/// recorded. The lease table lives in a JSON file (atomic writes) and is reloaded on start. Malformed packets, and
/// requests whose client hardware address is not the frame's source, are ignored and counted.
/// </summary>
public sealed partial class DhcpServer : IDisposable
{
    private readonly ApplianceEndpoint _endpoint;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly Dictionary<MacAddress, DhcpLease> _leases = [];
    private readonly Dictionary<MacAddress, uint> _reservations = [];
    private readonly Dictionary<MacAddress, (uint Address, DateTimeOffset Until)> _offers = [];
    private readonly Dictionary<uint, DateTimeOffset> _declined = [];
    private readonly IDisposable _binding;
    private readonly uint _server;
    private readonly uint _poolFirst;
    private readonly uint _poolLast;
    private long _malformed, _spoofed, _acks, _naks, _offersSent, _exhausted;

    /// <summary>Loads the lease table (if any) and starts serving on the endpoint.</summary>
    public DhcpServer(ApplianceEndpoint endpoint, DhcpServerOptions options, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(options);
        _endpoint = endpoint;
        _time = time ?? TimeProvider.System;
        Options = options;
        _server = ApplianceEndpoint.ToUInt32(options.ServerAddress);
        if (!options.Subnet.ContainsHost(_server))
        {
            throw new ArgumentException($"the DHCP server's address {options.ServerAddress} is not a host of {options.Subnet}", nameof(options));
        }

        int last = options.PoolLastHost == 0 ? options.Subnet.HostCount : options.PoolLastHost;
        if (options.PoolFirstHost < 1 || last > options.Subnet.HostCount || options.PoolFirstHost > last)
        {
            throw new ArgumentException($"DHCP pool hosts {options.PoolFirstHost}-{last} do not fit {options.Subnet} (hosts 1-{options.Subnet.HostCount})", nameof(options));
        }

        _poolFirst = options.Subnet.NetworkValue + (uint)options.PoolFirstHost;
        _poolLast = options.Subnet.NetworkValue + (uint)last;
        if (options.LeaseFile is { } file)
        {
            foreach (var lease in DhcpLeaseFile.Load(file).Where(l => options.Subnet.ContainsHost(l.Address)))
            {
                _leases[lease.Mac] = lease;
            }
        }

        _binding = endpoint.BindUdp(67, OnDatagram);
    }

    /// <summary>The options it serves with.</summary>
    public DhcpServerOptions Options { get; }

    /// <summary>Messages ignored as malformed (not BOOTP/DHCP, bad options, wrong hardware type).</summary>
    public long MalformedIgnored => Interlocked.Read(ref _malformed);

    /// <summary>Messages ignored because the client hardware address was not the frame's source MAC.</summary>
    public long SpoofedIgnored => Interlocked.Read(ref _spoofed);

    /// <summary>OFFERs sent.</summary>
    public long OffersSent => Interlocked.Read(ref _offersSent);

    /// <summary>ACKs sent.</summary>
    public long AcksSent => Interlocked.Read(ref _acks);

    /// <summary>NAKs sent.</summary>
    public long NaksSent => Interlocked.Read(ref _naks);

    /// <summary>DISCOVERs left unanswered because no address was free.</summary>
    public long PoolExhausted => Interlocked.Read(ref _exhausted);

    /// <summary>Why the lease file could not be written last time (null when the last write succeeded).</summary>
    public string? LeaseFileError { get; private set; }

    /// <summary>The lease table now (expired leases included until their address is reused).</summary>
    public IReadOnlyList<DhcpLease> Leases
    {
        get
        {
            lock (_gate)
            {
                return [.. _leases.Values];
            }
        }
    }

    /// <summary>Gives <paramref name="mac"/> always <paramref name="address"/> (a host of the subnet, not the server's).</summary>
    public void Reserve(MacAddress mac, IPAddress address)
    {
        uint a = ApplianceEndpoint.ToUInt32(address);
        if (!Options.Subnet.ContainsHost(a) || a == _server)
        {
            throw new ArgumentException($"cannot reserve {address} for {mac}: it is not a free host address of {Options.Subnet}", nameof(address));
        }

        lock (_gate)
        {
            var other = _reservations.FirstOrDefault(r => r.Value == a && r.Key != mac);
            if (other.Value == a)
            {
                throw new InvalidOperationException($"{address} is already reserved for {other.Key}");
            }

            _reservations[mac] = a;
        }
    }

    /// <summary>The address <paramref name="mac"/> has now: its unexpired lease, else its reservation; null when neither.</summary>
    public IPAddress? AddressOf(MacAddress mac)
    {
        lock (_gate)
        {
            if (_leases.TryGetValue(mac, out var lease) && lease.Expires > _time.GetUtcNow())
            {
                return lease.Address;
            }

            return _reservations.TryGetValue(mac, out uint r) ? ApplianceEndpoint.ToAddress(r) : null;
        }
    }

    /// <summary>The address of the unexpired lease whose client sent <paramref name="hostname"/> (case-insensitive).</summary>
    public IPAddress? AddressOfHostname(string hostname)
    {
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            return _leases.Values.FirstOrDefault(l => l.Expires > now && string.Equals(l.Hostname, hostname, StringComparison.OrdinalIgnoreCase))?.Address;
        }
    }

    /// <summary>Stops serving (the lease file stays).</summary>
    public void Dispose() => _binding.Dispose();

    private void OnDatagram(UdpDatagram datagram)
    {
        var message = DhcpMessage.TryParse(datagram.Payload);
        if (message is null || message.RelayAddress != 0)
        {
            Interlocked.Increment(ref _malformed);
            return;
        }

        if (message.ClientMac != datagram.SourceMac)
        {
            Interlocked.Increment(ref _spoofed);
            return;
        }

        switch (message.Type)
        {
            case DhcpMessage.Discover:
                OnDiscover(message);
                break;
            case DhcpMessage.Request:
                OnRequest(message);
                break;
            case DhcpMessage.Decline:
                OnDecline(message);
                break;
            case DhcpMessage.Release:
                OnRelease(message);
                break;
            case DhcpMessage.Inform:
                Send(message, DhcpMessage.Ack, 0, inform: true);
                break;
        }
    }

    private List<(byte, byte[])> ReplyOptions(bool withLease)
    {
        var options = new List<(byte, byte[])>
        {
            (54, Be(_server)),
            (1, Be(Options.Subnet.MaskValue)),
            (3, Be(_server)),
            (6, Be(_server)),
            (28, Be(Options.Subnet.NetworkValue | ~Options.Subnet.MaskValue)),
            (15, Encoding.ASCII.GetBytes(Options.Domain)),
        };
        if (withLease)
        {
            uint seconds = (uint)Math.Min(Options.LeaseTime.TotalSeconds, uint.MaxValue - 1);
            options.Add((51, Be(seconds)));
            options.Add((58, Be(seconds / 2)));
            options.Add((59, Be(seconds / 8 * 7)));
        }

        return options;
    }

    private void Send(DhcpMessage request, byte type, uint yourAddress, bool inform = false)
    {
        var options = type == DhcpMessage.Nak ? [(54, Be(_server))] : ReplyOptions(withLease: !inform);
        byte[] reply = request.Reply(type, yourAddress, type == DhcpMessage.Nak ? 0 : _server, options);
        var (mac, destination) = (request.ClientMac, ApplianceEndpoint.ToAddress(yourAddress));
        if (type == DhcpMessage.Nak || request.Broadcast || (yourAddress == 0 && request.ClientAddress == 0))
        {
            (mac, destination) = (MacAddress.Broadcast, IPAddress.Broadcast);
        }
        else if (request.ClientAddress != 0)
        {
            destination = ApplianceEndpoint.ToAddress(request.ClientAddress);
        }

        _endpoint.SendUdp(mac, destination, 68, 67, reply);
        if (type == DhcpMessage.Offer)
        {
            Interlocked.Increment(ref _offersSent);
        }
        else if (type == DhcpMessage.Ack)
        {
            Interlocked.Increment(ref _acks);
        }
        else
        {
            Interlocked.Increment(ref _naks);
        }
    }

    private static byte[] Be(uint value)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, value);
        return b;
    }
}
