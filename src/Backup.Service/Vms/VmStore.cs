using Backup.Engine.Vms;
using Backup.Service.Data;
using Backup.Service.Networks;

namespace Backup.Service.Vms;

/// <summary>
/// The VM definitions of a data folder, one <c>vms/NAME/vm.json</c> each (written atomically). A damaged definition
/// is reported by name and skipped in listings, never silently treated as absent by writers.
/// </summary>
public sealed class VmStore
{
    private readonly ApplianceData _data;

    public VmStore(ApplianceData data) => _data = data ?? throw new ArgumentNullException(nameof(data));

    /// <summary>Adds a VM. Throws <see cref="ArgumentException"/> if the definition is invalid, a file is missing or the name is taken.</summary>
    public VmDefinition Create(VmDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        definition.Validate();
        string path = _data.VmDefinitionPath(definition.Name);
        if (File.Exists(path))
        {
            throw new ArgumentException($"a VM named '{definition.Name}' already exists ({path})");
        }

        var absolute = definition with
        {
            Kernel = definition.Firmware is null ? Path.GetFullPath(definition.Kernel) : string.Empty,
            Initrd = definition.Initrd is null ? null : Path.GetFullPath(definition.Initrd),
            Disks = definition.Disks.Select(d => d with { Path = Path.GetFullPath(d.Path) }).ToArray(),
        };
        if (absolute.BootFirmware is { } firmware)
        {
            // The files are pinned (absolute, defaults spelled out) so backups carry exactly what the VM boots.
            absolute = absolute with { FirmwareFile = Path.GetFullPath(firmware.FirmwarePath), FirmwarePayload = Path.GetFullPath(firmware.PayloadPath) };
            try
            {
                absolute.BootFirmware!.Validate();
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"VM '{definition.Name}': {e.Message}", e);
            }
        }
        else if (!File.Exists(absolute.Kernel))
        {
            throw new ArgumentException($"VM '{definition.Name}': kernel '{absolute.Kernel}' does not exist");
        }

        if (absolute.Initrd is not null && !File.Exists(absolute.Initrd))
        {
            throw new ArgumentException($"VM '{definition.Name}': initrd '{absolute.Initrd}' does not exist");
        }

        absolute = WithNetworking(absolute);
        foreach (var disk in absolute.Disks)
        {
            if (!File.Exists(disk.Path))
            {
                throw new ArgumentException($"VM '{definition.Name}': disk image '{disk.Path}' does not exist");
            }
        }

        var duplicate = absolute.Disks.GroupBy(d => d.Path, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new ArgumentException($"VM '{definition.Name}': disk image '{duplicate.Key}' is given twice");
        }

        foreach (var other in List().Definitions)
        {
            var shared = other.Disks.Select(d => d.Path).Intersect(absolute.Disks.Select(d => d.Path), StringComparer.Ordinal).FirstOrDefault();
            if (shared is not null)
            {
                throw new ArgumentException($"VM '{definition.Name}': disk image '{shared}' already belongs to VM '{other.Name}'");
            }
        }

        Directory.CreateDirectory(_data.VmDirectory(definition.Name));
        Write(path, absolute);
        return absolute;
    }

    /// <summary>
    /// Checks that every NIC's network exists, gives NICs without a MAC a random one, and refuses a MAC or a forwarded
    /// host port another VM already has.
    /// </summary>
    private VmDefinition WithNetworking(VmDefinition definition)
    {
        if (definition.Nics.Count == 0)
        {
            return definition;
        }

        var networks = new NetworkStore(_data);
        foreach (var nic in definition.Nics)
        {
            if (!networks.Exists(nic.Network))
            {
                throw new ArgumentException($"VM '{definition.Name}': no network named '{nic.Network}' (create it with `backup network create {nic.Network}`)");
            }
        }

        var others = List().Definitions.Where(o => o.Name != definition.Name).ToList();
        var takenMacs = others.SelectMany(o => o.Nics).Select(n => n.Mac).ToHashSet(StringComparer.Ordinal);
        var complete = definition.WithMacAddresses(takenMacs);
        foreach (var nic in complete.Nics)
        {
            var owner = others.FirstOrDefault(o => o.Nics.Any(n => n.Mac == nic.Mac));
            if (owner is not null)
            {
                throw new ArgumentException($"VM '{definition.Name}': MAC {nic.Mac} already belongs to VM '{owner.Name}'");
            }
        }

        foreach (var forward in complete.Forwards)
        {
            var owner = others.FirstOrDefault(o => o.Forwards.Any(f => f.HostPort == forward.HostPort && f.HostAddress == forward.HostAddress));
            if (owner is not null)
            {
                throw new ArgumentException($"VM '{definition.Name}': host port {forward.HostAddress}:{forward.HostPort} is already forwarded to VM '{owner.Name}'");
            }
        }

        return complete;
    }

    /// <summary>Replaces a VM's definition (for example to change autostart).</summary>
    public void Update(VmDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        definition.Validate();
        string path = _data.VmDefinitionPath(definition.Name);
        if (!File.Exists(path))
        {
            throw new ArgumentException($"no VM named '{definition.Name}'");
        }

        Write(path, definition);
    }

    /// <summary>The VM's definition; throws <see cref="ArgumentException"/> if there is none, <see cref="FormatException"/> if it is damaged.</summary>
    public VmDefinition Get(string name)
    {
        if (!VmDefinition.IsValidName(name ?? string.Empty))
        {
            throw new ArgumentException($"'{name}' is not a valid VM name");
        }

        string path = _data.VmDefinitionPath(name!);
        if (!File.Exists(path))
        {
            throw new ArgumentException($"no VM named '{name}' (see `backup vm list`; create one with `backup vm create`)");
        }

        return VmDefinition.FromJson(File.ReadAllText(path), path);
    }

    public bool Exists(string name) => VmDefinition.IsValidName(name) && File.Exists(_data.VmDefinitionPath(name));

    /// <summary>Every readable definition, sorted by name, and the problems of unreadable ones.</summary>
    public (IReadOnlyList<VmDefinition> Definitions, IReadOnlyList<string> Problems) List()
    {
        var definitions = new List<VmDefinition>();
        var problems = new List<string>();
        if (!Directory.Exists(_data.VmsDirectory))
        {
            return (definitions, problems);
        }

        foreach (string directory in Directory.EnumerateDirectories(_data.VmsDirectory).Order(StringComparer.Ordinal))
        {
            string path = Path.Combine(directory, "vm.json");
            if (!File.Exists(path))
            {
                continue;
            }

            try
            {
                definitions.Add(VmDefinition.FromJson(File.ReadAllText(path), path));
            }
            catch (Exception e) when (e is FormatException or IOException)
            {
                problems.Add(e.Message);
            }
        }

        return (definitions, problems);
    }

    private static void Write(string path, VmDefinition definition) => AtomicFile.Write(path, definition.ToJson());
}
