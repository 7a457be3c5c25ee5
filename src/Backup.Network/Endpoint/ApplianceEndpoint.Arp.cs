using System.Buffers.Binary;
using System.Net;
using Backup.Network.Ethernet;
using Backup.Network.Protocols;

namespace Backup.Network.Endpoint;

public sealed partial class ApplianceEndpoint
{
    private const int MaxPendingResolutions = 64;
    private readonly uint _ip;
    private readonly uint _mask;
    private readonly Lock _arpGate = new();
    private readonly Dictionary<uint, (MacAddress Mac, long Expires)> _arpCache = [];
    private readonly Dictionary<uint, TaskCompletionSource<MacAddress>> _arpPending = [];

    /// <summary>
    /// The MAC address of <paramref name="address"/> on this network: from the ARP cache, or by ARP requests (one a
    /// second) until <paramref name="timeout"/>. Null when nothing answered.
    /// </summary>
    public async Task<MacAddress?> ResolveAsync(IPAddress address, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        uint ip = ToUInt32(address);
        if (TryGetCachedMac(ip, out var known))
        {
            return known;
        }

        if (!IsOnSubnet(address) || _disposed)
        {
            return null;
        }

        TaskCompletionSource<MacAddress> waiter;
        lock (_arpGate)
        {
            if (!_arpPending.TryGetValue(ip, out waiter!))
            {
                if (_arpPending.Count >= MaxPendingResolutions)
                {
                    return null;
                }

                waiter = new TaskCompletionSource<MacAddress>(TaskCreationOptions.RunContinuationsAsynchronously);
                _arpPending[ip] = waiter;
            }
        }

        var deadline = DateTime.UtcNow + timeout;
        try
        {
            while (true)
            {
                SendArp(1, MacAddress.Broadcast, default, ip);
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero)
                {
                    return null;
                }

                var wait = left < TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1);
                try
                {
                    return await waiter.Task.WaitAsync(wait, cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    // ask again
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    return null; // the endpoint shut down
                }
            }
        }
        finally
        {
            lock (_arpGate)
            {
                if (_arpPending.TryGetValue(ip, out var current) && current == waiter && !waiter.Task.IsCompleted)
                {
                    _arpPending.Remove(ip);
                }
            }
        }
    }

    internal bool TryGetCachedMac(uint ip, out MacAddress mac)
    {
        lock (_arpGate)
        {
            if (_arpCache.TryGetValue(ip, out var entry) && entry.Expires > Environment.TickCount64)
            {
                mac = entry.Mac;
                return true;
            }
        }

        mac = default;
        return false;
    }

    private void Remember(uint ip, MacAddress mac, bool force)
    {
        if (mac.IsMulticast || mac.Value == 0 || ip == 0 || ip == _ip)
        {
            return;
        }

        TaskCompletionSource<MacAddress>? waiter;
        lock (_arpGate)
        {
            bool pending = _arpPending.Remove(ip, out waiter);
            if (!force && !pending && !_arpCache.ContainsKey(ip))
            {
                return;
            }

            if (_arpCache.Count >= Options.ArpCapacity && !_arpCache.ContainsKey(ip))
            {
                uint oldest = _arpCache.MinBy(kv => kv.Value.Expires).Key;
                _arpCache.Remove(oldest);
            }

            _arpCache[ip] = (mac, Environment.TickCount64 + (long)Options.ArpLifetime.TotalMilliseconds);
        }

        waiter?.TrySetResult(mac);
    }

    private void FailPendingResolutions()
    {
        List<TaskCompletionSource<MacAddress>> waiters;
        lock (_arpGate)
        {
            waiters = [.. _arpPending.Values];
            _arpPending.Clear();
        }

        foreach (var w in waiters)
        {
            w.TrySetCanceled();
        }
    }

    private void HandleArp(ReadOnlySpan<byte> arp)
    {
        if (arp.Length < 28 || BinaryPrimitives.ReadUInt16BigEndian(arp) != 1 || BinaryPrimitives.ReadUInt16BigEndian(arp[2..]) != EtherTypes.IPv4
            || arp[4] != 6 || arp[5] != 4)
        {
            Interlocked.Increment(ref Statistics._droppedMalformed);
            return;
        }

        ushort op = BinaryPrimitives.ReadUInt16BigEndian(arp[6..]);
        var senderMac = MacAddress.Read(arp[8..]);
        uint senderIp = BinaryPrimitives.ReadUInt32BigEndian(arp[14..]);
        uint targetIp = BinaryPrimitives.ReadUInt32BigEndian(arp[24..]);
        bool forUs = targetIp == _ip;
        if ((senderIp & _mask) == (_ip & _mask))
        {
            Remember(senderIp, senderMac, forUs);
        }

        if (op == 1 && forUs)
        {
            Interlocked.Increment(ref Statistics._arpRepliesSent); // counted first: the reply may be read before this thread goes on
            SendArp(2, senderMac, senderMac, senderIp);
        }
    }

    private void SendArp(ushort op, MacAddress ethernetDestination, MacAddress targetMac, uint targetIp)
    {
        Span<byte> frame = stackalloc byte[60]; // 42 bytes of ARP, padded to the Ethernet minimum
        frame.Clear();
        ethernetDestination.Write(frame);
        Mac.Write(frame[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], EtherTypes.Arp);
        var arp = frame[14..];
        BinaryPrimitives.WriteUInt16BigEndian(arp, 1);
        BinaryPrimitives.WriteUInt16BigEndian(arp[2..], EtherTypes.IPv4);
        arp[4] = 6;
        arp[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(arp[6..], op);
        Mac.Write(arp[8..]);
        BinaryPrimitives.WriteUInt32BigEndian(arp[14..], _ip);
        targetMac.Write(arp[18..]);
        BinaryPrimitives.WriteUInt32BigEndian(arp[24..], targetIp);
        if (op == 1)
        {
            Interlocked.Increment(ref Statistics._arpRequestsSent);
        }

        Send(frame, FrameOffload.None);
    }
}
