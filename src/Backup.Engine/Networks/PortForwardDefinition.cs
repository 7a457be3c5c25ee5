using System.Globalization;
using System.Net;

namespace Backup.Engine.Networks;

/// <summary>
/// A TCP port of a VM reachable from the appliance's host: connections to <see cref="HostAddress"/>:<see cref="HostPort"/>
/// (a loopback address, never the host's own network) are carried through the appliance's endpoint on the VM's network
/// to the guest's <see cref="GuestPort"/> on NIC <see cref="Nic"/>. Written as <c>tcp:127.0.0.1:HOSTPORT-:GUESTPORT</c>
/// (QEMU's hostfwd syntax), optionally followed by <c>,nic=N</c>.
/// </summary>
public sealed record PortForwardDefinition
{
    public string HostAddress { get; init; } = "127.0.0.1";

    public int HostPort { get; init; }

    public int GuestPort { get; init; }

    /// <summary>The index of the VM's NIC whose network carries the forward (0: the first).</summary>
    public int Nic { get; init; }

    /// <summary>Checks the forward; throws <see cref="ArgumentException"/> naming what is wrong.</summary>
    public void Validate()
    {
        if (!IPAddress.TryParse(HostAddress, out var address) || !IPAddress.IsLoopback(address))
        {
            throw new ArgumentException($"forward {this}: the host address '{HostAddress}' is not a loopback address (the appliance never listens on the host's own network; use 127.0.0.1)");
        }

        if (HostPort is < 1 or > 65535 || GuestPort is < 1 or > 65535)
        {
            throw new ArgumentException($"forward {this}: ports are 1..65535");
        }

        if (Nic is < 0 or > 3)
        {
            throw new ArgumentException($"forward {this}: NIC {Nic} does not exist (0..3)");
        }
    }

    /// <summary>Parses <c>tcp:[HOSTADDR:]HOSTPORT-[GUESTADDR]:GUESTPORT[,nic=N]</c>.</summary>
    /// <exception cref="ArgumentException">The text is malformed (the message names it and shows the expected form).</exception>
    public static PortForwardDefinition Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string expected = $"--forward '{text}' is not tcp:127.0.0.1:HOSTPORT-:GUESTPORT[,nic=N]";
        string body = text;
        int nic = 0;
        int comma = body.IndexOf(',', StringComparison.Ordinal);
        if (comma >= 0)
        {
            string option = body[(comma + 1)..];
            if (!option.StartsWith("nic=", StringComparison.Ordinal) || !int.TryParse(option.AsSpan(4), NumberStyles.None, CultureInfo.InvariantCulture, out nic))
            {
                throw new ArgumentException(expected);
            }

            body = body[..comma];
        }

        if (!body.StartsWith("tcp:", StringComparison.Ordinal))
        {
            throw new ArgumentException($"{expected} (only tcp forwards exist)");
        }

        string[] sides = body[4..].Split('-');
        if (sides.Length != 2)
        {
            throw new ArgumentException(expected);
        }

        int hostColon = sides[0].LastIndexOf(':');
        string hostAddress = hostColon < 0 ? "127.0.0.1" : sides[0][..hostColon];
        string hostPort = hostColon < 0 ? sides[0] : sides[0][(hostColon + 1)..];
        int guestColon = sides[1].LastIndexOf(':');
        if (guestColon > 0)
        {
            throw new ArgumentException($"{expected}: the guest address comes from the VM's DHCP lease; leave it empty");
        }

        string guestPort = guestColon < 0 ? sides[1] : sides[1][1..];
        if (!int.TryParse(hostPort, NumberStyles.None, CultureInfo.InvariantCulture, out int h) ||
            !int.TryParse(guestPort, NumberStyles.None, CultureInfo.InvariantCulture, out int g))
        {
            throw new ArgumentException(expected);
        }

        var forward = new PortForwardDefinition { HostAddress = hostAddress.Length == 0 ? "127.0.0.1" : hostAddress, HostPort = h, GuestPort = g, Nic = nic };
        try
        {
            forward.Validate();
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"--forward '{text}': {e.Message}", e);
        }

        return forward;
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"tcp:{HostAddress}:{HostPort}-:{GuestPort}{(Nic == 0 ? string.Empty : $",nic={Nic}")}");
}
