using System.Globalization;
using System.Net;

namespace Backup.Network.Forwarding;

/// <summary>
/// A port forward as written on the command line, QEMU-style: <c>tcp:127.0.0.1:HOSTPORT-:GUESTPORT</c> (an empty host
/// address means 127.0.0.1). Only loopback host addresses are accepted: a forward never exposes a VM beyond the host.
/// </summary>
public sealed record ForwardSpec
{
    /// <summary>Creates a forward; throws when the host address is not loopback or a port is out of range.</summary>
    public ForwardSpec(IPAddress hostAddress, int hostPort, int guestPort)
    {
        ArgumentNullException.ThrowIfNull(hostAddress);
        if (!IPAddress.IsLoopback(hostAddress))
        {
            throw new ArgumentException($"port forwards bind only to loopback (127.0.0.1 or ::1), not {hostAddress}: the appliance does not expose VMs on the host's network", nameof(hostAddress));
        }

        if (hostPort is < 0 or > 65535 || guestPort is < 1 or > 65535)
        {
            throw new ArgumentOutOfRangeException(nameof(hostPort), $"ports must be 1-65535 (host port 0 picks a free one): host {hostPort}, guest {guestPort}");
        }

        HostAddress = hostAddress;
        HostPort = hostPort;
        GuestPort = guestPort;
    }

    /// <summary>The loopback address the host side listens on.</summary>
    public IPAddress HostAddress { get; }

    /// <summary>The host port (0: any free port).</summary>
    public int HostPort { get; }

    /// <summary>The guest's TCP port.</summary>
    public int GuestPort { get; }

    /// <summary>Parses <c>tcp:[ADDR]:HOSTPORT-:GUESTPORT</c>; throws <see cref="FormatException"/> naming the text and the rule.</summary>
    public static ForwardSpec Parse(string text)
    {
        const string Shape = "expected tcp:127.0.0.1:HOSTPORT-:GUESTPORT";
        if (text is null || !text.StartsWith("tcp:", StringComparison.Ordinal))
        {
            throw new FormatException($"'{text}' is not a port forward ({Shape}; only tcp is forwarded)");
        }

        int dash = text.LastIndexOf("-:", StringComparison.Ordinal);
        int colon = dash < 0 ? -1 : text.LastIndexOf(':', dash);
        if (dash < 0 || colon < 4)
        {
            throw new FormatException($"'{text}' is not a port forward ({Shape})");
        }

        string host = text[4..colon];
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            host = host[1..^1];
        }

        if (!int.TryParse(text[(colon + 1)..dash], NumberStyles.None, CultureInfo.InvariantCulture, out int hostPort)
            || !int.TryParse(text[(dash + 2)..], NumberStyles.None, CultureInfo.InvariantCulture, out int guestPort))
        {
            throw new FormatException($"'{text}' has a port that is not a number ({Shape})");
        }

        if (!IPAddress.TryParse(host.Length == 0 ? "127.0.0.1" : host, out var address))
        {
            throw new FormatException($"'{text}': '{host}' is not an IP address ({Shape})");
        }

        try
        {
            return new ForwardSpec(address, hostPort, guestPort);
        }
        catch (ArgumentException e)
        {
            throw new FormatException($"'{text}': {e.Message}", e);
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"tcp:{(HostAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{HostAddress}]" : HostAddress)}:{HostPort}-:{GuestPort}";
}
