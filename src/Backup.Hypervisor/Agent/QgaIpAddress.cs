namespace Backup.Hypervisor.Agent;

/// <summary>One address of a guest network interface: type ("ipv4"/"ipv6"), address and prefix length.</summary>
public sealed record QgaIpAddress(string Type, string Address, int Prefix);
