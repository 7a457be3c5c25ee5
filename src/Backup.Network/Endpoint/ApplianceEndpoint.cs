using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using Backup.Network.Ethernet;
using Backup.Network.Protocols;
using Backup.Network.Tcp;

namespace Backup.Network.Endpoint;

/// <summary>
/// The appliance's own TCP/IP host on one network: plugged into the network's switch as one more port with its own MAC
/// and IPv4 address. It answers ARP and pings, sends pings, carries UDP (DHCP and DNS serve on it) and TCP (active and
/// passive opens, exposed as <see cref="TcpStream"/>s) — what port forwards and probes use to reach the VMs without
/// touching the host's network. Frames are handled on the endpoint's own receive thread.
/// </summary>
public sealed partial class ApplianceEndpoint : IDisposable
{
    private readonly INetworkLink _link;
    private readonly AutoResetEvent _signal = new(false);
    private readonly Thread _receiver;
    private readonly HashSet<TcpConnection> _acksDue = [];
    private volatile bool _disposed;
    private int _ipId;

    /// <summary>Starts the endpoint on <paramref name="link"/> (which it then owns: disposing the endpoint disposes it).</summary>
    public ApplianceEndpoint(INetworkLink link, EndpointOptions options)
    {
        ArgumentNullException.ThrowIfNull(link);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _link = link;
        Options = options;
        Mac = options.Mac;
        Address = options.Address;
        _ip = ToUInt32(options.Address);
        _mask = options.PrefixLength == 0 ? 0 : uint.MaxValue << (32 - options.PrefixLength);
        _ipId = Random.Shared.Next(0, 65536);
        _nextEphemeral = Random.Shared.Next(49152, 65536);
        link.AcceptedOffloads = options.AcceptedOffloads;
        link.SetNotifier(Wake);
        _receiver = new Thread(ReceiveLoop) { IsBackground = true, Name = $"endpoint {options.Address}" };
        _receiver.Start();
    }

    /// <summary>The endpoint's MAC address.</summary>
    public MacAddress Mac { get; }

    /// <summary>The endpoint's IPv4 address.</summary>
    public IPAddress Address { get; }

    /// <summary>The options it was started with.</summary>
    public EndpointOptions Options { get; }

    /// <summary>The endpoint's counters.</summary>
    public EndpointStatistics Statistics { get; } = new();

    /// <summary>True for an address on the endpoint's subnet (network and broadcast addresses excluded).</summary>
    public bool IsOnSubnet(IPAddress address)
    {
        uint a = ToUInt32(address);
        return (a & _mask) == (_ip & _mask) && (a & ~_mask) != 0 && (a | _mask) != uint.MaxValue;
    }

    /// <summary>Stops the receive thread, resets every connection and takes the link down.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        AbortAllTcp(); // resets reach the peers before the link goes down
        _disposed = true;
        _signal.Set();
        _receiver.Join(TimeSpan.FromSeconds(5));
        FailPendingResolutions();
        _link.SetNotifier(null);
        _link.Dispose();
        _signal.Dispose();
    }

    internal static uint ToUInt32(IPAddress address)
    {
        Span<byte> b = stackalloc byte[4];
        if (!address.TryWriteBytes(b, out int written) || written != 4)
        {
            throw new ArgumentException($"{address} is not an IPv4 address", nameof(address));
        }

        return BinaryPrimitives.ReadUInt32BigEndian(b);
    }

    internal static IPAddress ToAddress(uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, value);
        return new IPAddress(b);
    }

    internal uint IpValue => _ip;

    /// <summary>Writes Ethernet and IPv4 headers (34 bytes) for a packet with <paramref name="l4Length"/> bytes after them.</summary>
    internal void WriteHeaders(Span<byte> frame, MacAddress destination, uint destinationIp, byte protocol, int l4Length, uint sourceIp = uint.MaxValue)
    {
        destination.Write(frame);
        Mac.Write(frame[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], EtherTypes.IPv4);
        var ip = frame[14..34];
        ip[0] = 0x45;
        ip[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + l4Length));
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)Interlocked.Increment(ref _ipId));
        BinaryPrimitives.WriteUInt16BigEndian(ip[6..], 0x4000); // don't fragment
        ip[8] = 64;
        ip[9] = protocol;
        ip[10] = 0;
        ip[11] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], sourceIp == uint.MaxValue ? _ip : sourceIp);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], destinationIp);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], InternetChecksum.Compute(ip));
    }

    internal bool Send(ReadOnlySpan<byte> frame, in FrameOffload offload)
    {
        if (_disposed)
        {
            return false;
        }

        Interlocked.Increment(ref Statistics._framesSent);
        return _link.Transmit(frame, offload);
    }

    private void Wake()
    {
        try
        {
            _signal.Set();
        }
        catch (ObjectDisposedException)
        {
            // a frame arrived while the endpoint shut down: nobody waits for it
        }
    }

    private void ReceiveLoop()
    {
        byte[] buffer = new byte[FrameLimits.MaximumSuperFrameLength];
        while (!_disposed)
        {
            _signal.WaitOne(500);
            int handled = 0;
            while (!_disposed)
            {
                if (!_link.TryReceive(buffer, out int length, out var offload))
                {
                    if (length > buffer.Length)
                    {
                        buffer = new byte[length];
                        continue;
                    }

                    break;
                }

                Interlocked.Increment(ref Statistics._framesReceived);
                HandleFrame(buffer.AsSpan(0, length), offload);
                if (++handled % 64 == 0)
                {
                    FlushAcks();
                }
            }

            FlushAcks();
        }
    }

    private void HandleFrame(ReadOnlySpan<byte> frame, in FrameOffload offload)
    {
        try
        {
            if (frame.Length < FrameLimits.MinimumLength)
            {
                Interlocked.Increment(ref Statistics._droppedMalformed);
                return;
            }

            var destination = MacAddress.Read(frame);
            if (destination != Mac && !destination.IsBroadcast)
            {
                Interlocked.Increment(ref Statistics._droppedNotForUs);
                return;
            }

            var (l3, type) = EtherTypes.Layer3(frame);
            if (l3 < 0)
            {
                Interlocked.Increment(ref Statistics._droppedMalformed);
            }
            else if (type == EtherTypes.Arp)
            {
                HandleArp(frame[l3..]);
            }
            else if (type == EtherTypes.IPv4)
            {
                HandleIpv4(MacAddress.Read(frame[6..]), frame[l3..], offload);
            }
            else
            {
                Interlocked.Increment(ref Statistics._droppedNotForUs);
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // hostile input must not stop the endpoint: whatever a frame trips over, it is dropped and counted
            Interlocked.Increment(ref Statistics._droppedMalformed);
        }
    }

    internal void AckLater(TcpConnection connection) => _acksDue.Add(connection);

    private void FlushAcks()
    {
        if (_acksDue.Count == 0)
        {
            return;
        }

        foreach (var connection in _acksDue)
        {
            connection.FlushAck();
        }

        _acksDue.Clear();
    }

    /// <summary>Rents a frame buffer; callers return it with <see cref="ArrayPool{T}.Return"/>.</summary>
    internal static byte[] RentFrame(int length) => ArrayPool<byte>.Shared.Rent(length);
}
