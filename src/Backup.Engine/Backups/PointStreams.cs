using System.Globalization;

namespace Backup.Engine.Backups;

/// <summary>Names of what the engine stores in a restore point.</summary>
public static class PointStreams
{
    /// <summary>The kernel Image the VM boots.</summary>
    public const string Kernel = "kernel";

    /// <summary>The initial ramdisk the kernel boots with (only for VMs that have one).</summary>
    public const string Initrd = "initrd";

    /// <summary>The M-mode firmware a firmware-booted VM starts (OpenSBI fw_dynamic; docs/firmware-boot.md).</summary>
    public const string Firmware = "firmware";

    /// <summary>The firmware's S-mode payload (U-Boot) a firmware-booted VM runs.</summary>
    public const string FirmwarePayload = "firmware-payload";

    /// <summary>The checkpoint file: CPU, device and memory state (docs/vm-state-format.md).</summary>
    public const string MemoryState = "vmstate";

    /// <summary>The name of the VM's disk number <paramref name="index"/> (definition order).</summary>
    public static string Disk(int index) => string.Create(CultureInfo.InvariantCulture, $"disk{index}");
}
