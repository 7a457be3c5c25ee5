using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using Backup.Network.Ethernet;
using Backup.Network.Protocols;

namespace Backup.Network.Endpoint;

public sealed partial class ApplianceEndpoint
{
    private const int MaxPendingPings = 256;
    private readonly Lock _udpGate = new();
    private readonly Dictionary<int, Action<UdpDatagram>> _udpHandlers = [];
    private readonly Dictionary<uint, TaskCompletionSource<bool>> _pings = [];
    private int _pingSequence;

    /// <summary>
    /// Delivers UDP datagrams for <paramref name="port"/> (to this endpoint's address or a broadcast) to
    /// <paramref name="handler"/>, on the receive thread: handlers must be quick. Dispose the result to unbind.
    /// </summary>
    public IDisposable BindUdp(int port, Action<UdpDatagram> handler)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        lock (_udpGate)
        {
            if (!_udpHandlers.TryAdd(port, handler))
            {
                throw new InvalidOperationException($"UDP port {port} on {Address} is already bound");
            }
        }

        return new Unbinder(() =>
        {
            lock (_udpGate)
            {
                _udpHandlers.Remove(port);
            }
        });
    }

    /// <summary>Sends a UDP datagram to a known MAC (a DHCP client has no address yet); false when the link dropped it.</summary>
    public bool SendUdp(MacAddress destinationMac, IPAddress destination, int destinationPort, int sourcePort, ReadOnlySpan<byte> payload)
    {
        if (payload.Length > 1500 - 28)
        {
            throw new ArgumentException($"a UDP payload of {payload.Length} bytes does not fit one 1500-byte packet (IPv4 fragments are not sent)", nameof(payload));
        }

        int l4 = 8 + payload.Length;
        Span<byte> frame = stackalloc byte[34 + l4];
        uint dst = ToUInt32(destination);
        WriteHeaders(frame, destinationMac, dst, EtherTypes.Udp, l4);
        var udp = frame[34..];
        BinaryPrimitives.WriteUInt16BigEndian(udp, (ushort)sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], (ushort)destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)l4);
        udp[6] = 0;
        udp[7] = 0;
        payload.CopyTo(udp[8..]);
        ushort sum = InternetChecksum.Compute(udp, InternetChecksum.PseudoHeaderV4(frame[26..], frame[30..], EtherTypes.Udp, l4));
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], sum == 0 ? (ushort)0xFFFF : sum);
        return Send(frame, FrameOffload.None);
    }

    /// <summary>
    /// Sends one ICMP echo request to <paramref name="address"/> and waits for its reply. Returns the round-trip time,
    /// or throws <see cref="NetworkException"/> (<see cref="NetworkFailure.NoArpAnswer"/>, <see cref="NetworkFailure.Timeout"/>).
    /// </summary>
    public async Task<TimeSpan> PingAsync(IPAddress address, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var watch = Stopwatch.StartNew();
        var mac = await ResolveAsync(address, timeout, cancellationToken).ConfigureAwait(false)
            ?? throw new NetworkException(NetworkFailure.NoArpAnswer, $"no ARP answer from {address} on {Address}'s network");
        ushort id = (ushort)(Environment.ProcessId & 0xFFFF);
        ushort seq = (ushort)Interlocked.Increment(ref _pingSequence);
        uint key = ((uint)id << 16) | seq;
        var reply = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_udpGate)
        {
            if (_pings.Count >= MaxPendingPings)
            {
                throw new NetworkException(NetworkFailure.Unavailable, $"too many pings in flight on {Address}");
            }

            _pings[key] = reply;
        }

        try
        {
            var sent = Stopwatch.StartNew();
            SendEcho(8, mac, ToUInt32(address), id, seq, "backup-appliance-probe"u8);
            var left = timeout - watch.Elapsed;
            try
            {
                await reply.Task.WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                throw new NetworkException(NetworkFailure.Timeout, $"no echo reply from {address} within {timeout.TotalMilliseconds:0} ms");
            }

            return sent.Elapsed;
        }
        finally
        {
            lock (_udpGate)
            {
                _pings.Remove(key);
            }
        }
    }

    private void HandleIpv4(MacAddress sourceMac, ReadOnlySpan<byte> packet, in FrameOffload offload)
    {
        if (packet.Length < 20 || (packet[0] >> 4) != 4)
        {
            Interlocked.Increment(ref Statistics._droppedMalformed);
            return;
        }

        int ihl = (packet[0] & 0xF) * 4;
        int total = BinaryPrimitives.ReadUInt16BigEndian(packet[2..]);
        if (ihl < 20 || total < ihl || total > packet.Length)
        {
            Interlocked.Increment(ref Statistics._droppedMalformed);
            return;
        }

        if (InternetChecksum.Compute(packet[..ihl]) != 0)
        {
            Interlocked.Increment(ref Statistics._droppedChecksum);
            return;
        }

        ushort fragment = BinaryPrimitives.ReadUInt16BigEndian(packet[6..]);
        if ((fragment & 0x3FFF) != 0)
        {
            Interlocked.Increment(ref Statistics._droppedFragments);
            return;
        }

        uint source = BinaryPrimitives.ReadUInt32BigEndian(packet[12..]);
        uint destination = BinaryPrimitives.ReadUInt32BigEndian(packet[16..]);
        bool broadcast = destination == uint.MaxValue || destination == (_ip | ~_mask);
        if (destination != _ip && !broadcast)
        {
            Interlocked.Increment(ref Statistics._droppedNotForUs);
            return;
        }

        var l4 = packet[ihl..total];
        bool checksumPending = offload.NeedsChecksum;
        ulong pseudo = InternetChecksum.PseudoHeaderV4(packet[12..], packet[16..], packet[9], l4.Length);
        switch (packet[9])
        {
            case EtherTypes.Icmp when !broadcast:
                HandleIcmp(sourceMac, source, l4, checksumPending);
                break;
            case EtherTypes.Udp:
                HandleUdp(sourceMac, source, destination, l4, checksumPending ? null : pseudo);
                break;
            case EtherTypes.Tcp when !broadcast:
                if (!checksumPending && InternetChecksum.Compute(l4, pseudo) != 0)
                {
                    Interlocked.Increment(ref Statistics._droppedChecksum);
                    return;
                }

                HandleTcp(sourceMac, source, l4);
                break;
            default:
                Interlocked.Increment(ref Statistics._droppedNotForUs);
                break;
        }
    }

    private void HandleIcmp(MacAddress sourceMac, uint source, ReadOnlySpan<byte> icmp, bool checksumPending)
    {
        if (icmp.Length < 8 || (!checksumPending && InternetChecksum.Compute(icmp) != 0))
        {
            Interlocked.Increment(ref Statistics._droppedChecksum);
            return;
        }

        ushort id = BinaryPrimitives.ReadUInt16BigEndian(icmp[4..]);
        ushort seq = BinaryPrimitives.ReadUInt16BigEndian(icmp[6..]);
        if (icmp[0] == 8 && icmp[1] == 0)
        {
            Interlocked.Increment(ref Statistics._echoRepliesSent);
            SendEcho(0, sourceMac, source, id, seq, icmp[8..]);
        }
        else if (icmp[0] == 0)
        {
            TaskCompletionSource<bool>? waiter;
            lock (_udpGate)
            {
                _pings.TryGetValue(((uint)id << 16) | seq, out waiter);
            }

            waiter?.TrySetResult(true);
        }
    }

    private void SendEcho(byte type, MacAddress mac, uint destination, ushort id, ushort seq, ReadOnlySpan<byte> data)
    {
        int l4 = 8 + data.Length;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(34 + l4);
        try
        {
            var frame = buffer.AsSpan(0, 34 + l4);
            WriteHeaders(frame, mac, destination, EtherTypes.Icmp, l4);
            var icmp = frame[34..];
            icmp[0] = type;
            icmp[1] = 0;
            icmp[2] = 0;
            icmp[3] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(icmp[4..], id);
            BinaryPrimitives.WriteUInt16BigEndian(icmp[6..], seq);
            data.CopyTo(icmp[8..]);
            BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], InternetChecksum.Compute(icmp));
            Send(frame, FrameOffload.None);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void HandleUdp(MacAddress sourceMac, uint source, uint destination, ReadOnlySpan<byte> udp, ulong? pseudo)
    {
        if (udp.Length < 8 || BinaryPrimitives.ReadUInt16BigEndian(udp[4..]) is var length && (length < 8 || length > udp.Length))
        {
            Interlocked.Increment(ref Statistics._droppedMalformed);
            return;
        }

        udp = udp[..length];
        if (pseudo is { } p && BinaryPrimitives.ReadUInt16BigEndian(udp[6..]) != 0 && InternetChecksum.Compute(udp, p) != 0)
        {
            Interlocked.Increment(ref Statistics._droppedChecksum);
            return;
        }

        int port = BinaryPrimitives.ReadUInt16BigEndian(udp[2..]);
        Action<UdpDatagram>? handler;
        lock (_udpGate)
        {
            _udpHandlers.TryGetValue(port, out handler);
        }

        if (handler is null)
        {
            Interlocked.Increment(ref Statistics._udpNoListener);
            return;
        }

        handler(new UdpDatagram(sourceMac, ToAddress(source), BinaryPrimitives.ReadUInt16BigEndian(udp), ToAddress(destination), port, udp[8..].ToArray()));
    }

    private sealed class Unbinder(Action undo) : IDisposable
    {
        private Action? _undo = undo;

        public void Dispose() => Interlocked.Exchange(ref _undo, null)?.Invoke();
    }
}
