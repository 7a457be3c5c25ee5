namespace Backup.Network.Tcp;

/// <summary>A TCP connection's state (RFC 9293 section 3.3.2; LISTEN lives in the listener).</summary>
public enum TcpState
{
    /// <summary>SYN sent, waiting for SYN-ACK.</summary>
    SynSent,

    /// <summary>SYN received and SYN-ACK sent, waiting for the ACK.</summary>
    SynReceived,

    /// <summary>Open both ways.</summary>
    Established,

    /// <summary>Our FIN sent, not yet acknowledged.</summary>
    FinWait1,

    /// <summary>Our FIN acknowledged, waiting for the peer's.</summary>
    FinWait2,

    /// <summary>The peer's FIN received; we may still send.</summary>
    CloseWait,

    /// <summary>Both FINs crossed; waiting for the ACK of ours.</summary>
    Closing,

    /// <summary>Our FIN sent after the peer's; waiting for its ACK.</summary>
    LastAck,

    /// <summary>Both sides closed; lingering to acknowledge a retransmitted FIN.</summary>
    TimeWait,

    /// <summary>Gone.</summary>
    Closed,
}
