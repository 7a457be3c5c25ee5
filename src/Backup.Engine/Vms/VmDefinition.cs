using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Backup.Disks.BlockDevices;
using Backup.Hypervisor.Machine;

namespace Backup.Engine.Vms;

/// <summary>
/// What a managed VM is: its name, the kernel it boots, its disks, memory, CPUs, kernel command line, whether it
/// has a guest-agent channel and whether the service starts it. Stored as JSON in the appliance's data folder and
/// inside every restore point (as the point's configuration), so a VM can be rebuilt from the repository alone.
/// </summary>
public sealed partial record VmDefinition
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    public string Name { get; init; } = string.Empty;

    /// <summary>Path of the RISC-V Linux kernel Image.</summary>
    public string Kernel { get; init; } = string.Empty;

    public IReadOnlyList<VmDiskDefinition> Disks { get; init; } = [];

    public ulong MemoryBytes { get; init; } = 256UL << 20;

    public int Cpus { get; init; } = 1;

    public string CommandLine { get; init; } = "console=ttyS0";

    /// <summary>Adds the guest-agent channel (ttyS1) used for application-consistent backups and checks.</summary>
    public bool AgentChannel { get; init; }

    /// <summary>The service starts this VM when it starts.</summary>
    public bool Autostart { get; init; }

    /// <summary>True when <paramref name="name"/> can name a VM: 1-63 of a-z, 0-9, '-', '_', '.', starting with a letter or digit.</summary>
    public static bool IsValidName(string name) => NamePattern().IsMatch(name);

    /// <summary>Checks the definition; throws <see cref="ArgumentException"/> naming what is wrong.</summary>
    public void Validate()
    {
        if (!IsValidName(Name))
        {
            throw new ArgumentException($"'{Name}' is not a valid VM name (1-63 characters of a-z, 0-9, '-', '_', '.', starting with a letter or digit)");
        }

        if (string.IsNullOrEmpty(Kernel))
        {
            throw new ArgumentException($"VM '{Name}' has no kernel");
        }

        if (Disks.Count > 8)
        {
            throw new ArgumentException($"VM '{Name}' has {Disks.Count} disks; at most 8 are supported");
        }

        if (Disks.Any(disk => string.IsNullOrEmpty(disk.Path)))
        {
            throw new ArgumentException($"VM '{Name}' has a disk without a path");
        }

        if (MemoryBytes < VmConfiguration.MinimumMemory || MemoryBytes > VmConfiguration.MaximumMemory || MemoryBytes % 4096 != 0)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"VM '{Name}': memory of {MemoryBytes} bytes is outside {VmConfiguration.MinimumMemory >> 20} MiB..{VmConfiguration.MaximumMemory >> 30} GiB or not a multiple of 4 KiB"));
        }

        if (Cpus is < 1 or > 4)
        {
            throw new ArgumentException($"VM '{Name}': {Cpus} CPUs requested; 1 to 4 are supported");
        }
    }

    /// <summary>The hypervisor configuration for this VM over already opened disks (in definition order).</summary>
    public VmConfiguration ToConfiguration(IReadOnlyList<IBlockDevice> disks, string? kernelPath = null) => new()
    {
        KernelPath = kernelPath ?? Kernel,
        MemorySize = MemoryBytes,
        CpuCount = Cpus,
        CommandLine = CommandLine,
        Disks = disks,
        AgentChannel = AgentChannel,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Parses a definition; <paramref name="source"/> names where it came from in the error.</summary>
    public static VmDefinition FromJson(string json, string source)
    {
        VmDefinition? definition;
        try
        {
            definition = JsonSerializer.Deserialize<VmDefinition>(json, Json);
        }
        catch (JsonException e)
        {
            throw new FormatException($"{source}: not a valid VM definition: {e.Message}", e);
        }

        if (definition is null)
        {
            throw new FormatException($"{source}: empty VM definition");
        }

        try
        {
            definition.Validate();
        }
        catch (ArgumentException e)
        {
            throw new FormatException($"{source}: {e.Message}", e);
        }

        return definition;
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{0,62}$")]
    private static partial Regex NamePattern();
}
