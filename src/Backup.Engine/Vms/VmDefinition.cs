using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Backup.Disks.BlockDevices;
using Backup.Disks.Snapshots;
using Backup.Engine.Networks;
using Backup.Hypervisor.Boot;
using Backup.Hypervisor.Machine;

namespace Backup.Engine.Vms;

/// <summary>
/// What a managed VM is: its name, the kernel (and initrd) it boots, its disks, memory, CPUs, kernel command line, whether it
/// has a guest-agent channel, whether the service starts it and its disks' changed-block tracking granularity. Stored as JSON in the appliance's data folder and
/// inside every restore point (as the point's configuration), so a VM can be rebuilt from the repository alone.
/// </summary>
public sealed partial record VmDefinition
{
    /// <summary>Smallest accepted change-tracking granularity: 4 KiB, the guests' page and file-system block size.</summary>
    public const int MinimumCbtGranularity = 4096;

    /// <summary>Largest accepted change-tracking granularity (the change-tracking library's own limit).</summary>
    public const int MaximumCbtGranularity = TrackedDiskOptions.MaxGranularity;

    /// <summary>Most network cards a VM has (the machine's NIC slots).</summary>
    public const int MaximumNics = 4;

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // a file for operators: "opensbi+uboot", not "opensbi\u002Buboot"
    };

    public string Name { get; init; } = string.Empty;

    /// <summary>Path of the RISC-V Linux kernel Image (empty for a VM that boots through <see cref="Firmware"/>).</summary>
    public string Kernel { get; init; } = string.Empty;

    /// <summary>
    /// Boots through guest firmware instead of a kernel: "opensbi+uboot" (OpenSBI, then U-Boot booting the first
    /// disk's extlinux.conf; docs/firmware-boot.md), or null.
    /// </summary>
    public string? Firmware { get; init; }

    /// <summary>The M-mode firmware file of a <see cref="Firmware"/> VM (null: Debian's OpenSBI fw_dynamic).</summary>
    public string? FirmwareFile { get; init; }

    /// <summary>The S-mode payload of a <see cref="Firmware"/> VM (null: Debian's U-Boot for QEMU virt).</summary>
    public string? FirmwarePayload { get; init; }

    /// <summary>Path of the initial ramdisk the kernel boots with, or null for none (older definitions have none).</summary>
    public string? Initrd { get; init; }

    public IReadOnlyList<VmDiskDefinition> Disks { get; init; } = [];

    public ulong MemoryBytes { get; init; } = 256UL << 20;

    public int Cpus { get; init; } = 1;

    public string CommandLine { get; init; } = "console=ttyS0";

    /// <summary>Adds the guest-agent channel (ttyS1) used for application-consistent backups and checks.</summary>
    public bool AgentChannel { get; init; }

    /// <summary>
    /// Adds the standard QEMU guest agent's channel (a virtio-serial port org.qemu.guest_agent.0 for the guest's
    /// qemu-ga); application-consistent backups then freeze through it. Older definitions lack it: false.
    /// </summary>
    public bool QemuGuestAgent { get; init; }

    /// <summary>The service starts this VM when it starts.</summary>
    public bool Autostart { get; init; }

    /// <summary>The VM's network cards, in order (the guest's eth0, eth1, ...); at most <see cref="MaximumNics"/>.</summary>
    public IReadOnlyList<VmNicDefinition> Nics { get; init; } = [];

    /// <summary>TCP ports of the guest reachable from the host's loopback address through the appliance.</summary>
    public IReadOnlyList<PortForwardDefinition> Forwards { get; init; } = [];

    /// <summary>
    /// Changed-block tracking granularity in bytes for the VM's disks (a disk's own
    /// <see cref="VmDiskDefinition.CbtGranularity"/> overrides it); null: <see cref="TrackedDiskOptions.DefaultGranularity"/> (64 KiB).
    /// A power of two from <see cref="MinimumCbtGranularity"/> to <see cref="MaximumCbtGranularity"/>.
    /// </summary>
    public int? CbtGranularity { get; init; }

    /// <summary>True when <paramref name="name"/> can name a VM: 1-63 of a-z, 0-9, '-', '_', '.', starting with a letter or digit.</summary>
    public static bool IsValidName(string name) => NamePattern().IsMatch(name);

    /// <summary>Checks the definition; throws <see cref="ArgumentException"/> naming what is wrong.</summary>
    public void Validate()
    {
        if (!IsValidName(Name))
        {
            throw new ArgumentException($"'{Name}' is not a valid VM name (1-63 characters of a-z, 0-9, '-', '_', '.', starting with a letter or digit)");
        }

        if (Firmware is null && string.IsNullOrEmpty(Kernel))
        {
            throw new ArgumentException($"VM '{Name}' has no kernel (and no firmware)");
        }

        if (Firmware is not null)
        {
            if (!string.Equals(Firmware, FirmwareBoot.OpenSbiUBootName, StringComparison.Ordinal))
            {
                throw new ArgumentException($"VM '{Name}': firmware '{Firmware}' is unknown (known: {FirmwareBoot.OpenSbiUBootName})");
            }

            if (!string.IsNullOrEmpty(Kernel))
            {
                throw new ArgumentException($"VM '{Name}' has both a kernel and firmware; it boots one way (the firmware boots the kernel its disk names)");
            }

            if (Initrd is not null)
            {
                throw new ArgumentException($"VM '{Name}' boots through firmware and has an initrd; its extlinux.conf names the initrd");
            }

            BootFirmware!.ValidateMemory(MemoryBytes);
        }
        else if (FirmwareFile is not null || FirmwarePayload is not null)
        {
            throw new ArgumentException($"VM '{Name}' names firmware files but does not boot through firmware");
        }

        if (Initrd is { Length: 0 })
        {
            throw new ArgumentException($"VM '{Name}' has an empty initrd path");
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

        if (CbtGranularity is { } granularity && CbtGranularityProblem(granularity) is { } problem)
        {
            throw new ArgumentException($"VM '{Name}': change-tracking granularity {problem}");
        }

        ValidateNetworking();
        for (int i = 0; i < Disks.Count; i++)
        {
            if (Disks[i].CbtGranularity is { } diskGranularity && CbtGranularityProblem(diskGranularity) is { } diskProblem)
            {
                throw new ArgumentException($"VM '{Name}': disk {i} ({Disks[i].Path}): change-tracking granularity {diskProblem}");
            }
        }
    }

    /// <summary>
    /// Why <paramref name="bytes"/> cannot be a change-tracking granularity ("... is not a power of two ..."), or null
    /// when it can: a power of two from 4 KiB to 64 MiB.
    /// </summary>
    public static string? CbtGranularityProblem(long bytes) =>
        bytes is >= MinimumCbtGranularity and <= MaximumCbtGranularity && long.IsPow2(bytes)
            ? null
            : string.Create(CultureInfo.InvariantCulture,
                $"of {bytes} bytes is not a power of two from {FormatGranularity(MinimumCbtGranularity)} to {FormatGranularity(MaximumCbtGranularity)} (for example 64K, 256K, 1M)");

    /// <summary>The change-tracking granularity disk <paramref name="diskIndex"/> runs with: its own, else the VM's, else 64 KiB.</summary>
    public int CbtGranularityOf(int diskIndex) =>
        (diskIndex >= 0 && diskIndex < Disks.Count ? Disks[diskIndex].CbtGranularity : null) ?? CbtGranularity ?? TrackedDiskOptions.DefaultGranularity;

    /// <summary>A granularity as an operator writes it: "64K", "1M", "4096" (bytes when not a whole number of KiB).</summary>
    public static string FormatGranularity(long bytes) =>
        bytes >= 1 << 20 && bytes % (1 << 20) == 0 ? string.Create(CultureInfo.InvariantCulture, $"{bytes >> 20}M")
        : bytes >= 1 << 10 && bytes % (1 << 10) == 0 ? string.Create(CultureInfo.InvariantCulture, $"{bytes >> 10}K")
        : bytes.ToString(CultureInfo.InvariantCulture);

    /// <summary>The firmware boot of a <see cref="Firmware"/> VM (Debian's files unless others are named), else null.</summary>
    [JsonIgnore]
    public FirmwareBoot? BootFirmware => Firmware is null ? null : FirmwareBoot.OpenSbiUBoot(FirmwareFile, FirmwarePayload);

    /// <summary>
    /// The files a restore point carries to boot this VM again: (stream name, path) — the kernel and its initrd, or
    /// the firmware and its payload.
    /// </summary>
    [JsonIgnore]
    public IReadOnlyList<(string Stream, string Path)> BootFiles => BootFirmware is { } firmware
        ? [(Backups.PointStreams.Firmware, firmware.FirmwarePath), (Backups.PointStreams.FirmwarePayload, firmware.PayloadPath)]
        : Initrd is { } initrd
            ? [(Backups.PointStreams.Kernel, Kernel), (Backups.PointStreams.Initrd, initrd)]
            : [(Backups.PointStreams.Kernel, Kernel)];

    /// <summary>This definition booting from <paramref name="files"/> (stream name to path) instead of its own boot files.</summary>
    public VmDefinition WithBootFiles(IReadOnlyDictionary<string, string> files) => Firmware is null
        ? this with { Kernel = files[Backups.PointStreams.Kernel], Initrd = files.GetValueOrDefault(Backups.PointStreams.Initrd) }
        : this with { FirmwareFile = files[Backups.PointStreams.Firmware], FirmwarePayload = files[Backups.PointStreams.FirmwarePayload] };

    /// <summary>
    /// The hypervisor configuration for this VM over already opened disks (in definition order) and NICs already plugged
    /// into their networks (<see cref="Networks.NetworkFabric.Attach"/>; none: the VM runs without network cards).
    /// </summary>
    public VmConfiguration ToConfiguration(IReadOnlyList<IBlockDevice> disks, string? kernelPath = null, IReadOnlyList<VmNic>? nics = null) => new()
    {
        Nics = nics ?? [],
        KernelPath = Firmware is null ? kernelPath ?? Kernel : null,
        InitrdPath = Firmware is null ? Initrd : null,
        Firmware = BootFirmware,
        MemorySize = MemoryBytes,
        CpuCount = Cpus,
        CommandLine = CommandLine,
        Disks = disks,
        AgentChannel = AgentChannel,
        QemuGuestAgent = QemuGuestAgent,
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
