namespace Backup.Hypervisor.Devices.Virtio;

/// <summary>Register offsets of the virtio-mmio transport, version 2 (virtio 1.x, section 4.2.2).</summary>
internal static class VirtioMmioRegisters
{
    public const ulong MagicValue = 0x000;
    public const ulong Version = 0x004;
    public const ulong DeviceId = 0x008;
    public const ulong VendorId = 0x00C;
    public const ulong DeviceFeatures = 0x010;
    public const ulong DeviceFeaturesSel = 0x014;
    public const ulong DriverFeatures = 0x020;
    public const ulong DriverFeaturesSel = 0x024;
    public const ulong QueueSel = 0x030;
    public const ulong QueueNumMax = 0x034;
    public const ulong QueueNum = 0x038;
    public const ulong QueueReady = 0x044;
    public const ulong QueueNotify = 0x050;
    public const ulong InterruptStatus = 0x060;
    public const ulong InterruptAck = 0x064;
    public const ulong Status = 0x070;
    public const ulong QueueDescLow = 0x080;
    public const ulong QueueDescHigh = 0x084;
    public const ulong QueueDriverLow = 0x090;
    public const ulong QueueDriverHigh = 0x094;
    public const ulong QueueDeviceLow = 0x0A0;
    public const ulong QueueDeviceHigh = 0x0A4;
    public const ulong ConfigGeneration = 0x0FC;
    public const ulong Config = 0x100;

    /// <summary>"virt" in little-endian ASCII.</summary>
    public const uint Magic = 0x74726976;

    /// <summary>Interrupt status bit: a used buffer notification.</summary>
    public const uint InterruptUsedBuffer = 1;

    /// <summary>Interrupt status bit: a configuration change notification.</summary>
    public const uint InterruptConfigChange = 2;
}
