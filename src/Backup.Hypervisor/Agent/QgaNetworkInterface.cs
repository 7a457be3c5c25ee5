namespace Backup.Hypervisor.Agent;

/// <summary>guest-network-get-interfaces: one interface, its MAC (null when the guest sent none) and its addresses.</summary>
public sealed record QgaNetworkInterface(string Name, string? HardwareAddress, IReadOnlyList<QgaIpAddress> Addresses);
