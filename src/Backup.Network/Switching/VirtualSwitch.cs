using Backup.Network.Ethernet;
using Backup.Network.Protocols;

namespace Backup.Network.Switching;

/// <summary>
/// A virtual L2 switch: one per named network. It learns source addresses per port (bounded table, aging), forwards
/// known unicast to one port and floods broadcast, multicast and unknown unicast to every other port. Each port's
/// queue is bounded; frames are validated against <see cref="FrameLimits"/>; broadcasts and ARP are rate-limited per
/// port; a port bound to a MAC drops frames with any other source. Frames a receiving NIC cannot finish (partial
/// checksum, TCP super-frame) are finished on the way. Nothing links two switches: networks are isolated.
/// </summary>
public sealed class VirtualSwitch : IDisposable
{
    private readonly SwitchOptions _options;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly Dictionary<ulong, MacEntry> _table = [];
    private SwitchPort[] _ports = [];
    private bool _disposed;

    /// <summary>Creates an empty switch.</summary>
    public VirtualSwitch(string name, SwitchOptions? options = null, TimeProvider? time = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        _options = options ?? new SwitchOptions();
        _options.Validate();
        _time = time ?? TimeProvider.System;
        Name = name;
    }

    /// <summary>The network's name.</summary>
    public string Name { get; }

    /// <summary>The ports now attached.</summary>
    public IReadOnlyList<SwitchPort> Ports => Volatile.Read(ref _ports);

    /// <summary>Addresses now in the learning table.</summary>
    public int LearnedAddresses
    {
        get
        {
            lock (_gate)
            {
                return _table.Count;
            }
        }
    }

    /// <summary>
    /// Adds a port. With <paramref name="boundMac"/>, only frames from that source address are accepted from it (a
    /// VM's NIC); without, any unicast source is (the appliance endpoint, or a test NIC).
    /// </summary>
    public SwitchPort CreatePort(string name, MacAddress? boundMac = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (boundMac is { } mac && mac.IsMulticast)
        {
            throw new ArgumentException($"port '{name}' cannot be bound to the group address {mac}", nameof(boundMac));
        }

        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (boundMac is { } bound && _table.TryGetValue(bound.Value, out var existing) && existing.Pinned)
            {
                throw new InvalidOperationException($"network '{Name}': MAC {bound} is already bound to port '{existing.Port.Name}'");
            }

            var port = new SwitchPort(this, name, boundMac, _options, _time);
            _ports = [.. _ports, port];
            if (boundMac is { } pinned)
            {
                _table[pinned.Value] = new MacEntry(port, long.MaxValue, true);
            }

            return port;
        }
    }

    /// <summary>Takes every port down.</summary>
    public void Dispose()
    {
        SwitchPort[] ports;
        lock (_gate)
        {
            _disposed = true;
            ports = _ports;
        }

        foreach (var port in ports)
        {
            port.Dispose();
        }
    }

    internal void Remove(SwitchPort port)
    {
        lock (_gate)
        {
            _ports = [.. _ports.Where(p => p != port)];
            foreach (var key in _table.Where(kv => kv.Value.Port == port).Select(kv => kv.Key).ToList())
            {
                _table.Remove(key);
            }
        }
    }

    internal bool Forward(SwitchPort from, ReadOnlySpan<byte> frame, in FrameOffload offload)
    {
        var stats = from.Statistics;
        if (frame.Length < FrameLimits.MinimumLength || !OffloadFinisher.IsConsistent(frame, offload))
        {
            bool oversized = frame.Length > FrameLimits.MaximumSuperFrameLength
                || (offload.Segmentation == SegmentationKind.None && frame.Length > FrameLimits.MaximumLength);
            Interlocked.Increment(ref oversized ? ref stats._droppedOversized : ref stats._droppedMalformed);
            return false;
        }

        var destination = MacAddress.Read(frame);
        var source = MacAddress.Read(frame[6..]);
        if (source.IsMulticast || source.Value == 0)
        {
            Interlocked.Increment(ref stats._droppedMalformed);
            return false;
        }

        if (from.BoundMac is { } bound && bound != source)
        {
            Interlocked.Increment(ref stats._droppedSpoofed);
            return false;
        }

        if (!PassesRateLimits(from, frame, destination))
        {
            return false;
        }

        Interlocked.Increment(ref stats._framesSent);
        Interlocked.Add(ref stats._bytesSent, frame.Length);
        SwitchPort? target = LearnAndLookUp(from, source, destination);
        if (target is not null)
        {
            if (target != from)
            {
                target.Deliver(frame, offload);
            }

            return true;
        }

        foreach (var port in Volatile.Read(ref _ports))
        {
            if (port != from)
            {
                port.Deliver(frame, offload);
            }
        }

        return true;
    }

    private static bool PassesRateLimits(SwitchPort from, ReadOnlySpan<byte> frame, MacAddress destination)
    {
        var (_, type) = EtherTypes.Layer3(frame);
        if (type == EtherTypes.Arp && !from.ArpLimit.TryTake())
        {
            Interlocked.Increment(ref from.Statistics._droppedArpRate);
            return false;
        }

        if (destination.IsMulticast && !from.BroadcastLimit.TryTake())
        {
            Interlocked.Increment(ref from.Statistics._droppedBroadcastRate);
            return false;
        }

        return true;
    }

    private SwitchPort? LearnAndLookUp(SwitchPort from, MacAddress source, MacAddress destination)
    {
        long now = _time.GetTimestamp();
        long aging = (long)(_options.MacAging.TotalSeconds * _time.TimestampFrequency);
        lock (_gate)
        {
            Learn(from, source, now, aging);
            if (destination.IsMulticast || !_table.TryGetValue(destination.Value, out var entry))
            {
                return null;
            }

            if (!entry.Pinned && now - entry.LastSeen > aging)
            {
                _table.Remove(destination.Value);
                return null;
            }

            return entry.Port;
        }
    }

    private void Learn(SwitchPort from, MacAddress source, long now, long aging)
    {
        if (_table.TryGetValue(source.Value, out var known))
        {
            if (known.Pinned)
            {
                return; // a bound address never moves: frames claiming it elsewhere do not redirect its traffic
            }

            _table[source.Value] = known with { Port = from, LastSeen = now };
            return;
        }

        if (_table.Count >= _options.MacTableCapacity)
        {
            foreach (var key in _table.Where(kv => !kv.Value.Pinned && now - kv.Value.LastSeen > aging).Select(kv => kv.Key).ToList())
            {
                _table.Remove(key);
            }

            if (_table.Count >= _options.MacTableCapacity)
            {
                return;
            }
        }

        if (_table.Values.Count(e => e.Port == from) >= _options.MaxMacsPerPort)
        {
            return;
        }

        _table[source.Value] = new MacEntry(from, now, false);
    }

    private readonly record struct MacEntry(SwitchPort Port, long LastSeen, bool Pinned);
}
