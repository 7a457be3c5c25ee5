using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using Backup.Network.Ethernet;
using Backup.Network.Protocols;
using Backup.Network.Tcp;

namespace Backup.Network.Endpoint;

public sealed partial class ApplianceEndpoint
{
    private readonly Lock _tcpGate = new();
    private readonly Dictionary<TcpKey, TcpConnection> _connections = [];
    private readonly Dictionary<int, EndpointTcpListener> _listeners = [];
    private int _nextEphemeral;

    /// <summary>TCP connections now open (any state).</summary>
    public int TcpConnectionCount
    {
        get
        {
            lock (_tcpGate)
            {
                return _connections.Count;
            }
        }
    }

    /// <summary>
    /// Opens a TCP connection to <paramref name="address"/>:<paramref name="port"/> on this network. Throws
    /// <see cref="NetworkException"/>: <see cref="NetworkFailure.NotOnSubnet"/>, <see cref="NetworkFailure.NoArpAnswer"/>,
    /// <see cref="NetworkFailure.Refused"/> (RST), <see cref="NetworkFailure.Timeout"/> (no SYN-ACK in time).
    /// </summary>
    public async Task<TcpStream> ConnectTcpAsync(IPAddress address, int port, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!IsOnSubnet(address))
        {
            throw new NetworkException(NetworkFailure.NotOnSubnet, $"{address} is not on {Address}/{Options.PrefixLength}");
        }

        var watch = Stopwatch.StartNew();
        var mac = await ResolveAsync(address, timeout, cancellationToken).ConfigureAwait(false)
            ?? throw new NetworkException(NetworkFailure.NoArpAnswer, $"no ARP answer from {address} (no host with that address on the network)");
        uint ip = ToUInt32(address);
        TcpConnection connection;
        lock (_tcpGate)
        {
            if (_connections.Count >= Options.MaxTcpConnections)
            {
                throw new NetworkException(NetworkFailure.Unavailable, $"the endpoint {Address} has {_connections.Count} TCP connections, its limit");
            }

            var key = new TcpKey(ip, (ushort)port, NextEphemeralPort(ip, (ushort)port));
            connection = new TcpConnection(this, key, mac);
            _connections[key] = connection;
        }

        connection.StartConnect();
        var left = timeout - watch.Elapsed;
        try
        {
            await connection.Connected.WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            connection.Abandon(NetworkFailure.Timeout, "connect timed out");
            throw new NetworkException(NetworkFailure.Timeout, $"no answer from {address}:{port} within {timeout.TotalMilliseconds:0} ms");
        }
        catch (OperationCanceledException)
        {
            connection.Abandon(NetworkFailure.Unavailable, "connect cancelled");
            throw;
        }

        return new TcpStream(connection);
    }

    /// <summary>Listens on a TCP port of the endpoint.</summary>
    public EndpointTcpListener ListenTcp(int port, int backlog = 16)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(backlog);
        lock (_tcpGate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_listeners.ContainsKey(port))
            {
                throw new InvalidOperationException($"TCP port {port} on {Address} is already listening");
            }

            var listener = new EndpointTcpListener(port, backlog, l =>
            {
                lock (_tcpGate)
                {
                    _listeners.Remove(l.Port);
                }
            });
            _listeners[port] = listener;
            return listener;
        }
    }

    internal void RemoveConnection(TcpConnection connection)
    {
        lock (_tcpGate)
        {
            if (_connections.TryGetValue(connection.Key, out var current) && current == connection)
            {
                _connections.Remove(connection.Key);
            }
        }
    }

    private ushort NextEphemeralPort(uint ip, ushort port)
    {
        for (int i = 0; i < 16384; i++)
        {
            int candidate = 49152 + ((_nextEphemeral++ - 49152) & 16383);
            if (!_connections.ContainsKey(new TcpKey(ip, port, (ushort)candidate)) && !_listeners.ContainsKey(candidate))
            {
                return (ushort)candidate;
            }
        }

        throw new NetworkException(NetworkFailure.Unavailable, $"no free local port on {Address} for {ToAddress(ip)}:{port}");
    }

    private void HandleTcp(MacAddress sourceMac, uint source, ReadOnlySpan<byte> segment)
    {
        if (!TcpHeader.TryParse(segment, out var h))
        {
            Interlocked.Increment(ref Statistics._droppedMalformed);
            return;
        }

        var payload = segment[h.HeaderLength..];
        var key = new TcpKey(source, h.SourcePort, h.DestinationPort);
        TcpConnection? connection;
        EndpointTcpListener? listener = null;
        lock (_tcpGate)
        {
            if (!_connections.TryGetValue(key, out connection) && h.IsSyn && !h.IsAck && !h.IsRst
                && _listeners.TryGetValue(h.DestinationPort, out listener) && _connections.Count < Options.MaxTcpConnections
                && listener.TryReserveHalfOpen())
            {
                connection = new TcpConnection(this, key, sourceMac) { Listener = listener };
                _connections[key] = connection;
            }
        }

        if (connection is null)
        {
            if (!h.IsRst)
            {
                SendReset(sourceMac, source, h, payload.Length);
            }

            return;
        }

        if (listener is not null)
        {
            Remember(source, sourceMac, force: false);
            connection.StartAccept(h);
            return;
        }

        connection.OnSegment(h, payload);
    }

    /// <summary>A RST for a segment nobody owns (RFC 9293 3.10.7.1).</summary>
    private void SendReset(MacAddress mac, uint destination, in TcpHeader h, int payloadLength)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(54);
        try
        {
            var frame = buffer.AsSpan(0, 54);
            WriteHeaders(frame, mac, destination, EtherTypes.Tcp, 20);
            var tcp = frame[34..];
            BinaryPrimitives.WriteUInt16BigEndian(tcp, h.DestinationPort);
            BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], h.SourcePort);
            uint length = (uint)payloadLength + (h.IsSyn ? 1u : 0) + (h.IsFin ? 1u : 0);
            BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], h.IsAck ? h.Ack : 0);
            BinaryPrimitives.WriteUInt32BigEndian(tcp[8..], h.IsAck ? 0 : h.Seq + length);
            tcp[12] = 5 << 4;
            tcp[13] = h.IsAck ? TcpHeader.Rst : (byte)(TcpHeader.Rst | TcpHeader.AckFlag);
            BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], 0);
            BinaryPrimitives.WriteUInt32BigEndian(tcp[16..], 0);
            ulong pseudo = InternetChecksum.PseudoHeaderV4(frame[26..], frame[30..], EtherTypes.Tcp, 20);
            BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], InternetChecksum.Compute(tcp, pseudo));
            Interlocked.Increment(ref Statistics._tcpResetsSent);
            Send(frame, FrameOffload.None);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void AbortAllTcp()
    {
        List<TcpConnection> all;
        List<EndpointTcpListener> listeners;
        lock (_tcpGate)
        {
            all = [.. _connections.Values];
            listeners = [.. _listeners.Values];
        }

        foreach (var listener in listeners)
        {
            listener.Dispose();
        }

        foreach (var connection in all)
        {
            connection.Abort($"the endpoint {Address} shut down");
        }
    }
}
