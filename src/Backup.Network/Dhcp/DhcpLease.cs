using System.Net;
using Backup.Network.Ethernet;

namespace Backup.Network.Dhcp;

/// <summary>An address leased to a MAC until <see cref="Expires"/>, with the hostname the client sent (option 12), if any.</summary>
public sealed record DhcpLease(MacAddress Mac, IPAddress Address, string? Hostname, DateTimeOffset Expires);
