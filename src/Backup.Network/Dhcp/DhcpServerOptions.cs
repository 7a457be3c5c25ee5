using System.Net;
using Backup.Network.Addressing;

namespace Backup.Network.Dhcp;

/// <summary>What a network's DHCP server hands out. The router and DNS server are the appliance endpoint.</summary>
public sealed record DhcpServerOptions
{
    /// <summary>The network's subnet.</summary>
    public required Ipv4Subnet Subnet { get; init; }

    /// <summary>The endpoint's address: server identifier, router and DNS server.</summary>
    public required IPAddress ServerAddress { get; init; }

    /// <summary>First host number handed out dynamically (10 = .10 in a /24).</summary>
    public int PoolFirstHost { get; init; } = 10;

    /// <summary>Last host number handed out dynamically; 0 means the last host of the subnet.</summary>
    public int PoolLastHost { get; init; }

    /// <summary>Lease duration.</summary>
    public TimeSpan LeaseTime { get; init; } = TimeSpan.FromHours(1);

    /// <summary>The domain given to clients (option 15), e.g. "lab".</summary>
    public string Domain { get; init; } = "lab";

    /// <summary>JSON file of the lease table (written atomically, reloaded on start); null keeps leases in memory only.</summary>
    public string? LeaseFile { get; init; }
}
