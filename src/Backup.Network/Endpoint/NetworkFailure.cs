namespace Backup.Network.Endpoint;

/// <summary>Why an operation over a network failed.</summary>
public enum NetworkFailure
{
    /// <summary>It did not fail.</summary>
    None = 0,

    /// <summary>No answer in the time allowed.</summary>
    Timeout,

    /// <summary>The peer refused the connection (a RST answered the SYN).</summary>
    Refused,

    /// <summary>The peer reset an established connection.</summary>
    Reset,

    /// <summary>Nothing answered ARP for the address: no host with it is on the network.</summary>
    NoArpAnswer,

    /// <summary>The VM's MAC address has no DHCP lease or reservation, so its IP address is unknown.</summary>
    NoLease,

    /// <summary>The address is not on the network's subnet.</summary>
    NotOnSubnet,

    /// <summary>The peer answered, but not what was expected (HTTP status or body).</summary>
    UnexpectedResponse,

    /// <summary>The peer's answer could not be parsed.</summary>
    MalformedResponse,

    /// <summary>The endpoint or network was shut down, or a resource limit was reached.</summary>
    Unavailable,
}
