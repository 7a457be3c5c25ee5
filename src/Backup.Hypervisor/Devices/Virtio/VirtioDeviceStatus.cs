namespace Backup.Hypervisor.Devices.Virtio;

/// <summary>Bits of the virtio device status register (virtio 1.x, section 2.1).</summary>
public static class VirtioDeviceStatus
{
    public const uint Acknowledge = 1;
    public const uint Driver = 2;
    public const uint DriverOk = 4;
    public const uint FeaturesOk = 8;
    public const uint DeviceNeedsReset = 64;
    public const uint Failed = 128;
}
