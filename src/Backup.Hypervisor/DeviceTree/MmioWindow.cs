namespace Backup.Hypervisor.DeviceTree;

/// <summary>A guest-physical address window [<see cref="Base"/>, <see cref="Base"/> + <see cref="Size"/>).</summary>
/// <param name="Base">First guest-physical address.</param>
/// <param name="Size">Length in bytes (non-zero).</param>
public readonly record struct MmioWindow(ulong Base, ulong Size)
{
    /// <summary>One past the last address; may be 2^64 (reported as 0) only for a window ending at the top.</summary>
    public ulong End => Base + Size;

    /// <summary>True when the window wraps around the 64-bit address space or is empty.</summary>
    public bool IsInvalid => Size == 0 || Size - 1 > ulong.MaxValue - Base;

    /// <summary>True when the two windows share at least one address.</summary>
    public bool Overlaps(MmioWindow other) =>
        Size != 0 && other.Size != 0 && (Base - other.Base < other.Size || other.Base - Base < Size);

    /// <inheritdoc/>
    public override string ToString() => $"[0x{Base:x}, +0x{Size:x})";
}
