using System.Runtime.InteropServices;

namespace Backup.Repository.DirectIo;

/// <summary>
/// A buffer whose first byte lies at a multiple of an alignment in memory (direct I/O needs that), carved from an array
/// allocated on the pinned object heap so it never moves. Reused by its owner; the garbage collector frees it.
/// </summary>
internal sealed class AlignedBuffer
{
    private readonly byte[] _array;
    private readonly int _start;

    public AlignedBuffer(int length, int alignment)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(alignment);
        _array = GC.AllocateUninitializedArray<byte>(length + alignment, pinned: true);
        var address = Marshal.UnsafeAddrOfPinnedArrayElement(_array, 0).ToInt64();
        _start = (int)((alignment - (address % alignment)) % alignment);
        Length = length;
    }

    public int Length { get; }

    public Span<byte> Span => _array.AsSpan(_start, Length);

    public Memory<byte> Memory => _array.AsMemory(_start, Length);
}
