namespace Backup.Hypervisor.Tests.Devices.Virtio;

/// <summary>A buffer the test's guest driver puts into a descriptor.</summary>
public readonly record struct GuestSegment(ulong Address, uint Length, bool Writable);
