using Backup.Hypervisor.Memory;

namespace Backup.Hypervisor.Devices.Virtio;

/// <summary>
/// A descriptor chain popped from a <see cref="Virtqueue"/>: its device-readable buffers followed by its
/// device-writable ones. The readable buffers form one byte stream and the writable buffers another; backends address
/// data by offset in those streams, so they make no assumption about how the driver split a request into descriptors.
/// All access goes through <see cref="GuestRam.TryGetSpan"/>; a buffer outside RAM simply fails to resolve.
/// </summary>
public sealed class VirtqueueChain
{
    private readonly GuestRam _ram;
    private readonly VirtqueueBuffer[] _buffers;

    internal VirtqueueChain(GuestRam ram, ushort headIndex, VirtqueueBuffer[] buffers, string? defect)
    {
        _ram = ram;
        _buffers = buffers;
        HeadIndex = headIndex;
        Defect = defect;
        foreach (var buffer in buffers)
        {
            if (buffer.IsDeviceWritable)
            {
                WritableLength += buffer.Length;
            }
            else
            {
                ReadableLength += buffer.Length;
            }
        }
    }

    /// <summary>Index of the chain's head descriptor (the id written to the used ring).</summary>
    public ushort HeadIndex { get; }

    /// <summary>The buffers in chain order.</summary>
    public IReadOnlyList<VirtqueueBuffer> Buffers => _buffers;

    /// <summary>
    /// Null for a well-formed chain; otherwise why its buffers cannot be trusted (a buffer outside guest RAM, a
    /// device-readable buffer after a device-writable one). The chain can still be completed.
    /// </summary>
    public string? Defect { get; }

    /// <summary>Total bytes of the device-readable buffers.</summary>
    public long ReadableLength { get; }

    /// <summary>Total bytes of the device-writable buffers.</summary>
    public long WritableLength { get; }

    /// <summary>
    /// The longest contiguous guest span at <paramref name="offset"/> of the readable or writable stream, at most
    /// <paramref name="maxLength"/> bytes (and at most one buffer). False when the offset is past the stream's end,
    /// <paramref name="maxLength"/> is not positive, or the buffer lies outside guest RAM.
    /// </summary>
    public bool TryGetStreamSpan(bool writable, long offset, long maxLength, out Span<byte> span)
    {
        span = default;
        if (offset < 0 || maxLength <= 0)
        {
            return false;
        }

        long position = 0;
        foreach (var buffer in _buffers)
        {
            if (buffer.IsDeviceWritable != writable)
            {
                continue;
            }

            if (offset < position + buffer.Length)
            {
                long within = offset - position;
                long length = Math.Min(Math.Min(buffer.Length - within, maxLength), int.MaxValue);
                return writable
                    ? _ram.TryGetWritableSpan(buffer.Address + (ulong)within, (int)length, out span)
                    : _ram.TryGetSpan(buffer.Address + (ulong)within, (int)length, out span);
            }

            position += buffer.Length;
        }

        return false;
    }

    /// <summary>Copies <paramref name="destination"/>.Length bytes from the readable stream at <paramref name="offset"/>.</summary>
    public bool TryCopyFromReadable(long offset, Span<byte> destination)
    {
        int done = 0;
        while (done < destination.Length)
        {
            if (!TryGetStreamSpan(writable: false, offset + done, destination.Length - done, out var span))
            {
                return false;
            }

            span.CopyTo(destination[done..]);
            done += span.Length;
        }

        return true;
    }

    /// <summary>Copies <paramref name="source"/> into the writable stream at <paramref name="offset"/>.</summary>
    public bool TryCopyToWritable(long offset, ReadOnlySpan<byte> source)
    {
        int done = 0;
        while (done < source.Length)
        {
            if (!TryGetStreamSpan(writable: true, offset + done, source.Length - done, out var span))
            {
                return false;
            }

            source.Slice(done, span.Length).CopyTo(span);
            done += span.Length;
        }

        return true;
    }
}
