using System.Net;
using Backup.Network.Addressing;
using Backup.Network.Dhcp;
using Backup.Network.Dns;
using Backup.Network.Endpoint;
using Backup.Network.Ethernet;
using Backup.Network.Forwarding;
using Backup.Network.Probes;
using Backup.Network.Switching;

namespace Backup.Network;

/// <summary>
/// One named, isolated network of the appliance: a <see cref="VirtualSwitch"/>, the appliance's endpoint on it (the
/// subnet's first host: router, DHCP and DNS server), its DHCP and DNS servers, port forwards from host loopback into
/// VMs, and probes. The engine attaches each VM's NIC with <see cref="Attach"/> and disposes the network to tear it
/// all down. Nothing connects two networks, or a network to the host's own network.
/// </summary>
public sealed class VirtualNetwork : IDisposable
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, (MacAddress Mac, SwitchPort Port)> _vms = new(StringComparer.Ordinal);
    private readonly List<TcpPortForward> _forwards = [];
    private bool _disposed;

    /// <summary>Creates the network and starts its endpoint, DHCP and DNS.</summary>
    public VirtualNetwork(VirtualNetworkOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        NetworkName.Validate(options.Name);
        Options = options;
        Name = options.Name;
        uint hash = StableHash(options.Name);
        Subnet = options.Subnet ?? Ipv4Subnet.ForIndex(1 + (int)(hash % 254));
        GatewayAddress = Subnet.Host(1);
        Switch = new VirtualSwitch(options.Name, options.Switch);
        try
        {
            var mac = options.EndpointMac ?? new MacAddress(0x5254_00FE_0000UL | (hash & 0xFFFF));
            Endpoint = new ApplianceEndpoint(Switch.CreatePort("appliance", mac),
                new EndpointOptions { Mac = mac, Address = GatewayAddress, PrefixLength = Subnet.PrefixLength });
            Dhcp = new DhcpServer(Endpoint, new DhcpServerOptions
            {
                Subnet = Subnet,
                ServerAddress = GatewayAddress,
                Domain = options.Domain,
                LeaseFile = options.LeaseFile,
                LeaseTime = options.LeaseTime,
            });
            Dns = new DnsServer(Endpoint, options.Domain, Dhcp.AddressOfHostname);
            Dns.Register("appliance", () => GatewayAddress);
            Probes = new NetworkProbes(Endpoint);
        }
        catch
        {
            Dhcp?.Dispose();
            Endpoint?.Dispose();
            Switch.Dispose();
            throw;
        }
    }

    /// <summary>The network's name.</summary>
    public string Name { get; }

    /// <summary>The options it was created with.</summary>
    public VirtualNetworkOptions Options { get; }

    /// <summary>The subnet.</summary>
    public Ipv4Subnet Subnet { get; }

    /// <summary>The appliance endpoint's address: router, DHCP server and DNS server of the network.</summary>
    public IPAddress GatewayAddress { get; }

    /// <summary>The switch.</summary>
    public VirtualSwitch Switch { get; }

    /// <summary>The appliance's endpoint on the network.</summary>
    public ApplianceEndpoint Endpoint { get; }

    /// <summary>The DHCP server.</summary>
    public DhcpServer Dhcp { get; }

    /// <summary>The DNS server.</summary>
    public DnsServer Dns { get; }

    /// <summary>Probes from the endpoint by address (see also the by-VM-name probes here).</summary>
    public NetworkProbes Probes { get; }

    /// <summary>
    /// Plugs a VM's NIC in: a switch port bound to <paramref name="mac"/> (frames from any other source are dropped),
    /// and <paramref name="vmName"/> answering in DNS with the MAC's lease. Optionally reserves a fixed address.
    /// </summary>
    public SwitchPort Attach(string vmName, MacAddress mac, IPAddress? reservedAddress = null)
    {
        string label = NetworkName.ToDnsLabel(vmName);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_vms.ContainsKey(vmName))
            {
                throw new InvalidOperationException($"VM '{vmName}' is already attached to network '{Name}'");
            }

            if (reservedAddress is not null)
            {
                Dhcp.Reserve(mac, reservedAddress);
            }

            var port = Switch.CreatePort(vmName, mac);
            _vms[vmName] = (mac, port);
            Dns.Register(label, () => Dhcp.AddressOf(mac));
            return port;
        }
    }

    /// <summary>
    /// Unplugs a VM: its port goes down (the NIC sees the link down), its name leaves DNS and its forwards close. Its
    /// lease and reservation stay, so it gets the same address when it comes back. False when it was not attached.
    /// </summary>
    public bool Detach(string vmName)
    {
        List<TcpPortForward> forwards;
        SwitchPort port;
        lock (_gate)
        {
            if (!_vms.Remove(vmName, out var vm))
            {
                return false;
            }

            port = vm.Port;
            forwards = _forwards.Where(f => f.GuestName == vmName).ToList();
            _forwards.RemoveAll(f => f.GuestName == vmName);
        }

        Dns.Unregister(NetworkName.ToDnsLabel(vmName));
        foreach (var forward in forwards)
        {
            forward.Dispose();
        }

        port.Dispose();
        return true;
    }

    /// <summary>The VM's address now (lease or reservation); null when it has none or is not attached.</summary>
    public IPAddress? AddressOf(string vmName)
    {
        lock (_gate)
        {
            return _vms.TryGetValue(vmName, out var vm) ? Dhcp.AddressOf(vm.Mac) : null;
        }
    }

    /// <summary>
    /// Forwards host loopback <paramref name="spec"/> to the VM's guest port (its address resolved per connection).
    /// The forward lives until the network is disposed, or until it is disposed itself.
    /// </summary>
    public TcpPortForward AddForward(string vmName, ForwardSpec spec)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_vms.ContainsKey(vmName))
            {
                throw new InvalidOperationException($"VM '{vmName}' is not attached to network '{Name}'");
            }

            var forward = new TcpPortForward(Endpoint, spec, vmName, () => AddressOf(vmName), Options.ForwardConnectTimeout);
            _forwards.Add(forward);
            return forward;
        }
    }

    /// <summary>Pings the VM.</summary>
    public Task<ProbeResult> PingAsync(string vmName, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        WithAddress(vmName, $"ping {vmName}", a => Probes.PingAsync(a, timeout, cancellationToken));

    /// <summary>Connects to the VM's TCP port.</summary>
    public Task<ProbeResult> TcpProbeAsync(string vmName, int port, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        WithAddress(vmName, $"tcp {vmName}:{port}", a => Probes.TcpConnectAsync(a, port, timeout, cancellationToken));

    /// <summary>Sends an HTTP GET to the VM's port.</summary>
    public Task<ProbeResult> HttpProbeAsync(string vmName, int port, HttpProbe probe, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        WithAddress(vmName, $"http {vmName}:{port}", a => Probes.HttpGetAsync(a, port, probe, timeout, cancellationToken));

    /// <summary>Stops forwards, DNS, DHCP and the endpoint, and takes every port down.</summary>
    public void Dispose()
    {
        List<TcpPortForward> forwards;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            forwards = [.. _forwards];
        }

        foreach (var forward in forwards)
        {
            forward.Dispose();
        }

        Dns.Dispose();
        Dhcp.Dispose();
        Endpoint.Dispose();
        Switch.Dispose();
    }

    private Task<ProbeResult> WithAddress(string vmName, string target, Func<IPAddress, Task<ProbeResult>> probe)
    {
        bool attached;
        lock (_gate)
        {
            attached = _vms.ContainsKey(vmName);
        }

        var address = AddressOf(vmName);
        if (address is null)
        {
            string why = attached
                ? $"'{vmName}' has no IP address on network '{Name}': no DHCP lease or reservation for its MAC"
                : $"'{vmName}' is not attached to network '{Name}'";
            return Task.FromResult(ProbeResult.Failed(target, TimeSpan.Zero, NetworkFailure.NoLease, why));
        }

        return probe(address);
    }

    private static uint StableHash(string text)
    {
        uint h = 2166136261;
        foreach (char c in text)
        {
            h = (h ^ c) * 16777619;
        }

        return h;
    }
}
