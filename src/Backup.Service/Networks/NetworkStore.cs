using Backup.Engine.Networks;
using Backup.Service.Data;
using Backup.Service.Vms;

namespace Backup.Service.Networks;

/// <summary>
/// The networks of a data folder, one <c>networks/NAME/network.json</c> each (written atomically), with their DHCP
/// lease tables beside them. A network a VM uses cannot be deleted; a damaged definition is reported by name.
/// </summary>
public sealed class NetworkStore
{
    private readonly ApplianceData _data;

    public NetworkStore(ApplianceData data) => _data = data ?? throw new ArgumentNullException(nameof(data));

    /// <summary>
    /// Adds a network; an empty <see cref="NetworkDefinition.Subnet"/> gets the first free default /24. Throws
    /// <see cref="ArgumentException"/> if the definition is invalid, the name is taken or the subnet overlaps another network's.
    /// </summary>
    public NetworkDefinition Create(NetworkDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        if (!NetworkDefinition.IsValidName(definition.Name))
        {
            throw new ArgumentException($"'{definition.Name}' is not a valid network name (1-32 characters of a-z, 0-9, '-', starting with a letter)");
        }

        if (File.Exists(_data.NetworkDefinitionPath(definition.Name)))
        {
            throw new ArgumentException($"a network named '{definition.Name}' already exists");
        }

        var others = List().Definitions;
        var taken = others.Select(o => o.ParsedSubnet()).ToList();
        var complete = definition.Subnet.Length == 0 ? definition with { Subnet = NetworkDefinition.FreeSubnet(taken) } : definition;
        complete.Validate();
        var subnet = complete.ParsedSubnet();
        complete = complete with { Subnet = subnet.ToString() };
        var overlapping = others.FirstOrDefault(o => o.ParsedSubnet() is var n && (n.Contains(subnet.BaseAddress) || subnet.Contains(n.BaseAddress)));
        if (overlapping is not null)
        {
            throw new ArgumentException($"network '{complete.Name}': subnet {complete.Subnet} overlaps network '{overlapping.Name}' ({overlapping.Subnet})");
        }

        Directory.CreateDirectory(_data.NetworkDirectory(complete.Name));
        AtomicFile.Write(_data.NetworkDefinitionPath(complete.Name), complete.ToJson());
        return complete;
    }

    /// <summary>The network's definition; throws <see cref="ArgumentException"/> if there is none, <see cref="FormatException"/> if it is damaged.</summary>
    public NetworkDefinition Get(string name)
    {
        if (!NetworkDefinition.IsValidName(name))
        {
            throw new ArgumentException($"'{name}' is not a valid network name");
        }

        string path = _data.NetworkDefinitionPath(name);
        if (!File.Exists(path))
        {
            throw new ArgumentException($"no network named '{name}' (see `backup network list`; create one with `backup network create {name}`)");
        }

        return NetworkDefinition.FromJson(File.ReadAllText(path), path);
    }

    public bool Exists(string name) => NetworkDefinition.IsValidName(name) && File.Exists(_data.NetworkDefinitionPath(name));

    /// <summary>Deletes a network and its leases; refuses while a VM's definition uses it (naming the VMs).</summary>
    public void Delete(string name, VmStore vms)
    {
        ArgumentNullException.ThrowIfNull(vms);
        Get(name);
        var users = vms.List().Definitions.Where(v => v.Nics.Any(n => n.Network == name)).Select(v => v.Name).ToList();
        if (users.Count > 0)
        {
            throw new ArgumentException($"network '{name}' is used by VM{(users.Count == 1 ? string.Empty : "s")} {string.Join(", ", users)}; remove their NICs first");
        }

        Directory.Delete(_data.NetworkDirectory(name), recursive: true);
    }

    /// <summary>Every readable definition, sorted by name, and the problems of unreadable ones.</summary>
    public (IReadOnlyList<NetworkDefinition> Definitions, IReadOnlyList<string> Problems) List()
    {
        var definitions = new List<NetworkDefinition>();
        var problems = new List<string>();
        if (!Directory.Exists(_data.NetworksDirectory))
        {
            return (definitions, problems);
        }

        foreach (string directory in Directory.EnumerateDirectories(_data.NetworksDirectory).Order(StringComparer.Ordinal))
        {
            string path = Path.Combine(directory, "network.json");
            if (!File.Exists(path))
            {
                continue;
            }

            try
            {
                definitions.Add(NetworkDefinition.FromJson(File.ReadAllText(path), path));
            }
            catch (Exception e) when (e is FormatException or IOException)
            {
                problems.Add(e.Message);
            }
        }

        return (definitions, problems);
    }
}
