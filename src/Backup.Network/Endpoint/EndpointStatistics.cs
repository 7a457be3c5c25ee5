namespace Backup.Network.Endpoint;

/// <summary>Counters of an <see cref="ApplianceEndpoint"/>; read at any time.</summary>
public sealed class EndpointStatistics
{
    internal long _framesReceived;
    internal long _framesSent;
    internal long _droppedMalformed;
    internal long _droppedFragments;
    internal long _droppedChecksum;
    internal long _droppedNotForUs;
    internal long _arpRequestsSent;
    internal long _arpRepliesSent;
    internal long _echoRepliesSent;
    internal long _udpNoListener;
    internal long _tcpResetsSent;
    internal long _tcpRetransmissions;
    internal long _tcpOutOfOrder;

    /// <summary>Frames taken from the link.</summary>
    public long FramesReceived => Interlocked.Read(ref _framesReceived);

    /// <summary>Frames handed to the link.</summary>
    public long FramesSent => Interlocked.Read(ref _framesSent);

    /// <summary>Frames dropped as malformed (bad lengths, versions, options).</summary>
    public long DroppedMalformed => Interlocked.Read(ref _droppedMalformed);

    /// <summary>IPv4 fragments (not reassembled: dropped).</summary>
    public long DroppedFragments => Interlocked.Read(ref _droppedFragments);

    /// <summary>Packets whose IP, ICMP, UDP or TCP checksum was wrong.</summary>
    public long DroppedChecksum => Interlocked.Read(ref _droppedChecksum);

    /// <summary>Packets for another address or an unhandled protocol.</summary>
    public long DroppedNotForUs => Interlocked.Read(ref _droppedNotForUs);

    /// <summary>ARP requests sent.</summary>
    public long ArpRequestsSent => Interlocked.Read(ref _arpRequestsSent);

    /// <summary>ARP replies sent.</summary>
    public long ArpRepliesSent => Interlocked.Read(ref _arpRepliesSent);

    /// <summary>ICMP echo replies sent (pings answered).</summary>
    public long EchoRepliesSent => Interlocked.Read(ref _echoRepliesSent);

    /// <summary>UDP datagrams for a port nobody listens on.</summary>
    public long UdpNoListener => Interlocked.Read(ref _udpNoListener);

    /// <summary>TCP resets sent.</summary>
    public long TcpResetsSent => Interlocked.Read(ref _tcpResetsSent);

    /// <summary>TCP segments sent again (timeout or fast retransmit).</summary>
    public long TcpRetransmissions => Interlocked.Read(ref _tcpRetransmissions);

    /// <summary>TCP segments received out of order.</summary>
    public long TcpOutOfOrder => Interlocked.Read(ref _tcpOutOfOrder);
}
