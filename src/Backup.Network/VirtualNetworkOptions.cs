using Backup.Network.Addressing;
using Backup.Network.Ethernet;
using Backup.Network.Switching;

namespace Backup.Network;

/// <summary>How a <see cref="VirtualNetwork"/> is set up; everything but the name has a default.</summary>
public sealed record VirtualNetworkOptions
{
    /// <summary>The network's name (<see cref="NetworkName"/>).</summary>
    public required string Name { get; init; }

    /// <summary>The subnet; null: 10.N.0.0/24 with N derived from the name (stable across restarts).</summary>
    public Ipv4Subnet? Subnet { get; init; }

    /// <summary>The DNS domain VMs answer under (NAME.DOMAIN) and DHCP hands out.</summary>
    public string Domain { get; init; } = "lab";

    /// <summary>The DHCP lease table's JSON file (in the appliance's data folder); null keeps leases in memory.</summary>
    public string? LeaseFile { get; init; }

    /// <summary>The endpoint's MAC; null: one derived from the name (stable, so guests' ARP caches survive a restart).</summary>
    public MacAddress? EndpointMac { get; init; }

    /// <summary>Limits of the switch.</summary>
    public SwitchOptions Switch { get; init; } = new();

    /// <summary>Lease duration.</summary>
    public TimeSpan LeaseTime { get; init; } = TimeSpan.FromHours(1);

    /// <summary>How long a port forward waits for the guest to accept a connection.</summary>
    public TimeSpan ForwardConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);
}
