using Backup.Hypervisor.Devices;

namespace Backup.Hypervisor.Memory;

/// <summary>
/// The physical address space of one VM: its RAM plus memory-mapped devices. The CPU caches RAM translations in
/// its TLB and comes here only for MMIO and unmapped addresses. An access to nothing is reported (false), never thrown.
/// </summary>
public sealed class SystemBus
{
    private IMmioDevice[] _devices = [];

    public SystemBus(GuestRam ram)
    {
        Ram = ram;
    }

    public GuestRam Ram { get; }

    public IReadOnlyList<IMmioDevice> Devices => _devices;

    /// <summary>Maps a device. Throws when its window overlaps RAM or another device.</summary>
    public void Attach(IMmioDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (device.Size == 0 || device.Base + device.Size < device.Base)
        {
            throw new ArgumentException($"device {device.Name} has an empty or wrapping window");
        }

        if (Overlaps(device.Base, device.Size, Ram.Base, Ram.Size))
        {
            throw new ArgumentException($"device {device.Name} at 0x{device.Base:x} overlaps RAM");
        }

        foreach (var d in _devices)
        {
            if (Overlaps(device.Base, device.Size, d.Base, d.Size))
            {
                throw new ArgumentException($"device {device.Name} at 0x{device.Base:x} overlaps {d.Name} at 0x{d.Base:x}");
            }
        }

        _devices = [.. _devices, device];
    }

    /// <summary>Finds the device whose window holds [pa, pa+size).</summary>
    public IMmioDevice? FindDevice(ulong pa, int size)
    {
        foreach (var d in _devices)
        {
            if (pa >= d.Base && pa - d.Base <= d.Size - (ulong)size)
            {
                return d;
            }
        }

        return null;
    }

    /// <summary>Physical read of 1/2/4/8 bytes; false when nothing is mapped there.</summary>
    public unsafe bool Read(ulong pa, int size, out ulong value)
    {
        if (Ram.Contains(pa, (ulong)size))
        {
            byte* p = Ram.Pointer + (pa - Ram.Base);
            value = size switch { 1 => *p, 2 => *(ushort*)p, 4 => *(uint*)p, _ => *(ulong*)p };
            return true;
        }

        var device = FindDevice(pa, size);
        if (device is null)
        {
            value = 0;
            return false;
        }

        value = device.Read(pa - device.Base, size);
        return true;
    }

    /// <summary>Physical write of 1/2/4/8 bytes; false when nothing is mapped there.</summary>
    public unsafe bool Write(ulong pa, int size, ulong value)
    {
        if (Ram.Contains(pa, (ulong)size))
        {
            Ram.Tracker.NotifyWrite(pa, (ulong)size);
            byte* p = Ram.Pointer + (pa - Ram.Base);
            switch (size)
            {
                case 1: *p = (byte)value; break;
                case 2: *(ushort*)p = (ushort)value; break;
                case 4: *(uint*)p = (uint)value; break;
                default: *(ulong*)p = value; break;
            }

            return true;
        }

        var device = FindDevice(pa, size);
        if (device is null)
        {
            return false;
        }

        device.Write(pa - device.Base, size, value);
        return true;
    }

    private static bool Overlaps(ulong a, ulong aSize, ulong b, ulong bSize) => a < b + bSize && b < a + aSize;
}
