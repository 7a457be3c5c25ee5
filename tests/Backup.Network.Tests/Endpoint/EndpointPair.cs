using System.Net;
using Backup.Network.Endpoint;
using Backup.Network.Ethernet;
using Backup.Network.Switching;

namespace Backup.Network.Tests.Endpoint;

/// <summary>Two appliance endpoints on one real switch (10.9.0.1 and 10.9.0.2), optionally through lossy links.</summary>
internal sealed class EndpointPair : IDisposable
{
    public static readonly IPAddress AddressA = IPAddress.Parse("10.9.0.1");
    public static readonly IPAddress AddressB = IPAddress.Parse("10.9.0.2");

    public EndpointPair(Func<INetworkLink, INetworkLink>? wrapA = null, Func<INetworkLink, INetworkLink>? wrapB = null,
        Func<EndpointOptions, EndpointOptions>? tune = null)
    {
        Switch = new VirtualSwitch("pair");
        var macA = MacAddress.Parse("52:54:00:00:01:01");
        var macB = MacAddress.Parse("52:54:00:00:01:02");
        PortA = Switch.CreatePort("a", macA);
        PortB = Switch.CreatePort("b", macB);
        tune ??= o => o;
        A = new ApplianceEndpoint((wrapA ?? (l => l))(PortA), tune(new EndpointOptions { Mac = macA, Address = AddressA }));
        B = new ApplianceEndpoint((wrapB ?? (l => l))(PortB), tune(new EndpointOptions { Mac = macB, Address = AddressB }));
    }

    public VirtualSwitch Switch { get; }

    public SwitchPort PortA { get; }

    public SwitchPort PortB { get; }

    public ApplianceEndpoint A { get; }

    public ApplianceEndpoint B { get; }

    public void Dispose()
    {
        A.Dispose();
        B.Dispose();
        Switch.Dispose();
    }
}
