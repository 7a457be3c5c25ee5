using System.Net;
using Backup.Network.Ethernet;

namespace Backup.Network.Endpoint;

/// <summary>A UDP datagram the endpoint received, with the Ethernet source it came from.</summary>
public sealed record UdpDatagram(
    MacAddress SourceMac,
    IPAddress SourceAddress,
    int SourcePort,
    IPAddress DestinationAddress,
    int DestinationPort,
    byte[] Payload);
