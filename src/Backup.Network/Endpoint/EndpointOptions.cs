using System.Net;
using Backup.Network.Ethernet;

namespace Backup.Network.Endpoint;

/// <summary>Address and limits of an <see cref="ApplianceEndpoint"/>.</summary>
public sealed record EndpointOptions
{
    /// <summary>The endpoint's MAC address.</summary>
    public required MacAddress Mac { get; init; }

    /// <summary>The endpoint's IPv4 address.</summary>
    public required IPAddress Address { get; init; }

    /// <summary>The subnet's prefix length (24 for a /24).</summary>
    public int PrefixLength { get; init; } = 24;

    /// <summary>How long a resolved ARP entry is trusted.</summary>
    public TimeSpan ArpLifetime { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Most ARP entries kept.</summary>
    public int ArpCapacity { get; init; } = 256;

    /// <summary>Each TCP connection's send buffer.</summary>
    public int TcpSendBuffer { get; init; } = 1 << 20;

    /// <summary>Each TCP connection's receive buffer (its window, scaled as needed).</summary>
    public int TcpReceiveBuffer { get; init; } = 1 << 20;

    /// <summary>Most TCP connections at once (any state).</summary>
    public int MaxTcpConnections { get; init; } = 512;

    /// <summary>How long a closed connection waits in TIME-WAIT.</summary>
    public TimeSpan TcpTimeWait { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Send TCP super-frames (TSO4) and partial checksums; the switch finishes them for NICs that cannot.</summary>
    public bool UseOffloads { get; init; } = true;

    /// <summary>Offloads the endpoint accepts on receive (set on its link).</summary>
    public OffloadCapabilities AcceptedOffloads { get; init; } = OffloadCapabilities.Checksum | OffloadCapabilities.TcpV4Segmentation;

    /// <summary>Checks the values; throws naming the first bad one.</summary>
    public void Validate()
    {
        if (Address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
        {
            throw new ArgumentException($"the endpoint's address must be IPv4, not {Address}", nameof(Address));
        }

        if (PrefixLength is < 8 or > 30)
        {
            throw new ArgumentOutOfRangeException(nameof(PrefixLength), PrefixLength, "prefix length must be 8 to 30");
        }

        if (TcpSendBuffer < 4096 || TcpReceiveBuffer < 4096 || TcpReceiveBuffer > (1 << 30))
        {
            throw new ArgumentOutOfRangeException(nameof(TcpReceiveBuffer), "TCP buffers must be 4 KiB to 1 GiB");
        }

        if (Mac.IsMulticast || ArpCapacity < 1 || MaxTcpConnections < 1)
        {
            throw new ArgumentException("the endpoint needs a unicast MAC and positive ARP and connection limits");
        }
    }
}
