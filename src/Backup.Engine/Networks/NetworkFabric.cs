using System.Collections.Concurrent;
using Backup.Engine.Vms;
using Backup.Hypervisor.Machine;
using Backup.Network;
using Backup.Network.Addressing;
using Backup.Network.Endpoint;
using Backup.Network.Ethernet;
using Backup.Network.Forwarding;
using Backup.Network.Probes;

namespace Backup.Engine.Networks;

/// <summary>
/// The appliance's networks running in this process: each named network is started (switch, endpoint, DHCP with its
/// lease file, DNS) when the first VM on it starts and stays up until the fabric is disposed, so leases and learned
/// addresses outlive a VM's restart. VMs are plugged in with <see cref="Attach"/> and probed by name.
/// </summary>
public sealed class NetworkFabric : IDisposable
{
    private readonly Func<string, NetworkDefinition> _definitionOf;
    private readonly Func<string, string?> _leaseFileOf;
    private readonly ConcurrentDictionary<string, VirtualNetwork> _networks = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, VmDefinition> _attached = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private bool _disposed;

    /// <param name="definitionOf">The definition of a network by name (throws <see cref="ArgumentException"/> for an unknown one).</param>
    /// <param name="leaseFileOf">Where a network keeps its DHCP leases (null: in memory).</param>
    public NetworkFabric(Func<string, NetworkDefinition> definitionOf, Func<string, string?> leaseFileOf)
    {
        _definitionOf = definitionOf ?? throw new ArgumentNullException(nameof(definitionOf));
        _leaseFileOf = leaseFileOf ?? throw new ArgumentNullException(nameof(leaseFileOf));
    }

    /// <summary>
    /// A fabric of isolated copies of the networks <paramref name="definitionOf"/> names: same subnets and domains, but
    /// switches of their own, so VMs on it (recovered VMs, drills) never reach the production VMs. Each copy starts
    /// from the production lease table (copied into <paramref name="leaseDirectory"/> when the copy opens), so a VM
    /// gets the address it had in production.
    /// </summary>
    public static NetworkFabric Isolated(Func<string, NetworkDefinition> definitionOf, Func<string, string?> productionLeaseFileOf, string leaseDirectory)
    {
        ArgumentNullException.ThrowIfNull(productionLeaseFileOf);
        Directory.CreateDirectory(leaseDirectory);
        return new NetworkFabric(definitionOf, name =>
        {
            string copy = Path.Combine(leaseDirectory, $"{name}.leases.json");
            if (productionLeaseFileOf(name) is { } production && File.Exists(production))
            {
                File.Copy(production, copy, overwrite: true);
            }

            return copy;
        });
    }

    /// <summary>The networks started so far.</summary>
    public IReadOnlyCollection<VirtualNetwork> Networks => _networks.Values.ToArray();

    /// <summary>
    /// Plugs every NIC of <paramref name="vm"/> into its network (started if needed) and opens its port forwards.
    /// Returns the NICs for the VM's configuration; dispose the attachment when the VM stops.
    /// </summary>
    /// <exception cref="ArgumentException">A network is unknown or damaged, a NIC has no MAC, or the VM is attached already.</exception>
    /// <exception cref="IOException">A forward's host port cannot be bound (the message names it).</exception>
    public VmNetworkAttachment Attach(VmDefinition vm)
    {
        ArgumentNullException.ThrowIfNull(vm);
        if (vm.Nics.Count == 0)
        {
            return new VmNetworkAttachment(this, vm.Name, []);
        }

        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_attached.TryAdd(vm.Name, vm))
            {
                throw new ArgumentException($"VM '{vm.Name}' is already on its networks (is it running twice?)");
            }
        }

        var nics = new List<VmNic>();
        try
        {
            foreach (var nic in vm.Nics)
            {
                if (!MacAddress.TryParse(nic.Mac, out var mac))
                {
                    throw new ArgumentException($"VM '{vm.Name}': NIC on '{nic.Network}' has no MAC address");
                }

                var network = Open(nic.Network);
                nics.Add(new VmNic(mac, network.Attach(vm.Name, mac)));
            }

            foreach (var forward in vm.Forwards)
            {
                var spec = new ForwardSpec(System.Net.IPAddress.Parse(forward.HostAddress.Trim('[', ']')), forward.HostPort, forward.GuestPort);
                try
                {
                    Open(vm.Nics[forward.Nic].Network).AddForward(vm.Name, spec);
                }
                catch (System.Net.Sockets.SocketException e)
                {
                    throw new IOException($"VM '{vm.Name}': forward {forward} cannot listen on {forward.HostAddress}:{forward.HostPort}: {e.Message}", e);
                }
            }

            return new VmNetworkAttachment(this, vm.Name, nics);
        }
        catch
        {
            Detach(vm.Name);
            throw;
        }
    }

    /// <summary>The network NIC <paramref name="nic"/> of a running VM is on, or null when the VM is not attached or has no such NIC.</summary>
    public VirtualNetwork? NetworkOf(string vmName, int nic = 0) =>
        _attached.TryGetValue(vmName, out var vm) && nic >= 0 && nic < vm.Nics.Count && _networks.TryGetValue(vm.Nics[nic].Network, out var network)
            ? network
            : null;

    /// <summary>Runs <paramref name="probe"/> from the appliance's endpoint on the VM's network (NIC <paramref name="nic"/>).</summary>
    public async Task<ProbeResult> ProbeAsync(string vmName, VmProbe probe, TimeSpan timeout, int nic = 0, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(probe);
        var network = NetworkOf(vmName, nic);
        if (network is null)
        {
            string why = _attached.TryGetValue(vmName, out var vm)
                ? $"VM '{vmName}' has no NIC {nic} (it has {vm.Nics.Count})"
                : $"VM '{vmName}' is not running on a network in this appliance";
            return ProbeResult.Failed(probe.ToString(), TimeSpan.Zero, NetworkFailure.Unavailable, why);
        }

        return probe.Kind switch
        {
            VmProbeKind.Ping => await network.PingAsync(vmName, timeout, cancellationToken).ConfigureAwait(false),
            VmProbeKind.Tcp => await network.TcpProbeAsync(vmName, probe.Port, timeout, cancellationToken).ConfigureAwait(false),
            _ => await network.HttpProbeAsync(vmName, probe.Port, new HttpProbe { Path = probe.Path, ExpectedStatus = probe.ExpectedStatus, ExpectedBody = probe.ExpectedBody },
                timeout, cancellationToken).ConfigureAwait(false),
        };
    }

    /// <summary>Unplugs the VM from every network it is on (its forwards close, leases stay).</summary>
    internal void Detach(string vmName)
    {
        if (!_attached.TryRemove(vmName, out var vm))
        {
            return;
        }

        foreach (string name in vm.Nics.Select(n => n.Network).Distinct(StringComparer.Ordinal))
        {
            if (_networks.TryGetValue(name, out var network))
            {
                network.Detach(vmName);
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
        }

        foreach (var network in _networks.Values)
        {
            network.Dispose();
        }

        _networks.Clear();
        _attached.Clear();
    }

    private VirtualNetwork Open(string name)
    {
        lock (_gate)
        {
            if (_networks.TryGetValue(name, out var running))
            {
                return running;
            }

            var definition = _definitionOf(name);
            var network = new VirtualNetwork(new VirtualNetworkOptions
            {
                Name = definition.Name,
                Subnet = Ipv4Subnet.Parse(definition.Subnet),
                Domain = definition.EffectiveDomain,
                LeaseFile = _leaseFileOf(name),
            });
            _networks[name] = network;
            return network;
        }
    }
}
