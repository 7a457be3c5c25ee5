using System.Globalization;

namespace Backup.Engine.Networks;

/// <summary>One check of a running VM from the appliance's endpoint on its network (ping, TCP connect, HTTP GET).</summary>
public sealed record VmProbe
{
    public VmProbeKind Kind { get; init; }

    /// <summary>The TCP port (TCP and HTTP probes).</summary>
    public int Port { get; init; }

    /// <summary>The HTTP path.</summary>
    public string Path { get; init; } = "/";

    /// <summary>The HTTP status the probe expects (null: any 2xx).</summary>
    public int? ExpectedStatus { get; init; }

    /// <summary>Text the HTTP body must contain (null: anything).</summary>
    public string? ExpectedBody { get; init; }

    public static VmProbe Ping() => new() { Kind = VmProbeKind.Ping };

    public static VmProbe Tcp(int port) => Checked(new VmProbe { Kind = VmProbeKind.Tcp, Port = port });

    public static VmProbe Http(int port, string path, int? expectedStatus, string? expectedBody) =>
        Checked(new VmProbe { Kind = VmProbeKind.Http, Port = port, Path = path, ExpectedStatus = expectedStatus, ExpectedBody = expectedBody });

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        VmProbeKind.Ping => "ping",
        VmProbeKind.Tcp => string.Create(CultureInfo.InvariantCulture, $"tcp {Port}"),
        _ => string.Create(CultureInfo.InvariantCulture, $"http {Port}{Path}"),
    };

    private static VmProbe Checked(VmProbe probe)
    {
        if (probe.Port is < 1 or > 65535)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"probe port {probe.Port} is outside 1..65535"));
        }

        if (probe.Kind == VmProbeKind.Http && !probe.Path.StartsWith('/'))
        {
            throw new ArgumentException($"HTTP probe path '{probe.Path}' does not start with '/'");
        }

        return probe;
    }
}
