using System.Runtime.InteropServices;

namespace Backup.Hypervisor.Memory;

/// <summary>
/// A VM's RAM: one native allocation, zero-filled lazily by the OS (calloc), never copied.
/// Guest-physical address <see cref="Base"/> maps to host byte 0. Device DMA goes through the bounds-checked
/// <see cref="TryGetSpan"/>; the CPU uses <see cref="Pointer"/> after its own range checks.
/// </summary>
public sealed unsafe class GuestRam : IDisposable
{
    private byte* _pointer;

    public GuestRam(ulong baseAddress, ulong size)
    {
        if (size == 0 || size % 4096 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, "RAM size must be a positive multiple of 4 KiB");
        }

        Base = baseAddress;
        Size = size;
        _pointer = (byte*)NativeMemory.AllocZeroed((nuint)size);
        Tracker = new PageWriteTracker(this);
    }

    /// <summary>Which pages are written: dirty generations, copy-on-write capture.</summary>
    public PageWriteTracker Tracker { get; }

    /// <summary>Guest-physical address of the first byte.</summary>
    public ulong Base { get; }

    /// <summary>Size in bytes.</summary>
    public ulong Size { get; }

    /// <summary>Host address of guest-physical <see cref="Base"/>.</summary>
    public byte* Pointer => _pointer;

    /// <summary>True when [pa, pa+length) lies entirely inside RAM.</summary>
    public bool Contains(ulong pa, ulong length) => pa >= Base && length <= Size && pa - Base <= Size - length;

    /// <summary>A view of guest memory for DMA; false when any byte of the range is outside RAM.</summary>
    public bool TryGetSpan(ulong pa, int length, out Span<byte> span)
    {
        if (length < 0 || !Contains(pa, (ulong)length))
        {
            span = default;
            return false;
        }

        span = new Span<byte>(_pointer + (pa - Base), length);
        return true;
    }

    /// <summary>A view of guest memory a device is about to write (DMA into the guest); the pages are reported as written.</summary>
    public bool TryGetWritableSpan(ulong pa, int length, out Span<byte> span)
    {
        if (!TryGetSpan(pa, length, out span))
        {
            return false;
        }

        Tracker.NotifyWrite(pa, (ulong)length);
        return true;
    }

    /// <summary>Copies page <paramref name="pageIndex"/> (relative to <see cref="Base"/>) into <paramref name="into"/>.</summary>
    public void CopyPage(ulong pageIndex, Span<byte> into) =>
        new ReadOnlySpan<byte>(_pointer + (pageIndex << PageWriteTracker.PageShift), PageWriteTracker.PageSize).CopyTo(into);

    /// <summary>Copies bytes into guest memory (loading kernels, device trees). Throws when out of range.</summary>
    public void Write(ulong pa, ReadOnlySpan<byte> data)
    {
        if (!TryGetSpan(pa, data.Length, out var span))
        {
            throw new ArgumentOutOfRangeException(nameof(pa), $"[0x{pa:x}, +0x{data.Length:x}) is outside guest RAM [0x{Base:x}, +0x{Size:x})");
        }

        Tracker.NotifyWrite(pa, (ulong)data.Length);
        data.CopyTo(span);
    }

    public void Dispose()
    {
        if (_pointer != null)
        {
            NativeMemory.Free(_pointer);
            _pointer = null;
        }
    }
}
