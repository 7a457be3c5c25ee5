using Backup.Engine.Networks;
using Backup.Network.Ethernet;

namespace Backup.Engine.Vms;

/// <summary>The network side of a VM definition: its NICs and port forwards.</summary>
public sealed partial record VmDefinition
{
    /// <summary>Checks NICs and forwards; throws <see cref="ArgumentException"/> naming what is wrong.</summary>
    private void ValidateNetworking()
    {
        if (Nics.Count > MaximumNics)
        {
            throw new ArgumentException($"VM '{Name}' has {Nics.Count} network cards; at most {MaximumNics} are supported");
        }

        var macs = new HashSet<ulong>();
        for (int i = 0; i < Nics.Count; i++)
        {
            var nic = Nics[i];
            if (!NetworkDefinition.IsValidName(nic.Network))
            {
                throw new ArgumentException($"VM '{Name}': NIC {i} names '{nic.Network}', which is not a valid network name");
            }

            if (nic.Mac.Length == 0)
            {
                continue;
            }

            if (!MacAddress.TryParse(nic.Mac, out var mac))
            {
                throw new ArgumentException($"VM '{Name}': NIC {i}: '{nic.Mac}' is not a MAC address (six hex octets, e.g. 52:54:00:12:34:56)");
            }

            if (mac.IsMulticast || mac.Value == 0)
            {
                throw new ArgumentException($"VM '{Name}': NIC {i}: {mac} is a group or zero address; a card needs a unicast MAC");
            }

            if (!macs.Add(mac.Value))
            {
                throw new ArgumentException($"VM '{Name}': MAC {mac} is given to two NICs");
            }
        }

        var hostPorts = new HashSet<(string, int)>();
        foreach (var forward in Forwards)
        {
            try
            {
                forward.Validate();
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"VM '{Name}': {e.Message}", e);
            }

            if (forward.Nic >= Nics.Count)
            {
                throw new ArgumentException(Nics.Count == 0
                    ? $"VM '{Name}': forward {forward} needs a network card (--nic network=NAME)"
                    : $"VM '{Name}': forward {forward} uses NIC {forward.Nic}, but the VM has {Nics.Count}");
            }

            if (!hostPorts.Add((forward.HostAddress, forward.HostPort)))
            {
                throw new ArgumentException($"VM '{Name}': host port {forward.HostAddress}:{forward.HostPort} is forwarded twice");
            }
        }
    }

    /// <summary>This definition with a random MAC (52:54:00:xx:xx:xx) for every NIC that has none, avoiding <paramref name="taken"/>.</summary>
    public VmDefinition WithMacAddresses(ISet<string> taken)
    {
        ArgumentNullException.ThrowIfNull(taken);
        var nics = new List<VmNicDefinition>(Nics.Count);
        var used = new HashSet<string>(taken, StringComparer.Ordinal);
        used.UnionWith(Nics.Where(n => n.Mac.Length > 0).Select(n => MacAddress.Parse(n.Mac).ToString()));
        foreach (var nic in Nics)
        {
            if (nic.Mac.Length > 0)
            {
                nics.Add(nic with { Mac = MacAddress.Parse(nic.Mac).ToString() });
                continue;
            }

            string mac;
            do
            {
                mac = MacAddress.NewRandom().ToString();
            }
            while (!used.Add(mac));
            nics.Add(nic with { Mac = mac });
        }

        return this with { Nics = nics };
    }
}
