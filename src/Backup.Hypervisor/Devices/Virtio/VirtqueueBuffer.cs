namespace Backup.Hypervisor.Devices.Virtio;

/// <summary>One descriptor's buffer in a popped chain: guest-physical address, length, and direction.</summary>
public readonly record struct VirtqueueBuffer(ulong Address, uint Length, bool IsDeviceWritable);
