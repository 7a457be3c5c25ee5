using System.Buffers.Binary;
using Backup.Hypervisor.Memory;

namespace Backup.Hypervisor.Devices.Virtio;

/// <summary>
/// A split virtqueue (virtio 1.x, section 2.7): descriptor table, available (driver) ring and used (device) ring in
/// guest RAM, read and written only through <see cref="GuestRam.TryGetSpan"/>. The transport configures and
/// activates it; a backend pops descriptor chains with <see cref="TryPop"/> and returns them with
/// <see cref="Complete"/>. Anything that makes the ring itself untrustworthy (an available index that jumps by more
/// than the queue size, a head or next index out of range, a chain that loops, nested indirect tables, rings outside
/// RAM) marks the queue broken: it stops popping and the transport sets DEVICE_NEEDS_RESET.
/// </summary>
public sealed class Virtqueue
{
    /// <summary>Largest indirect descriptor table accepted, in descriptors.</summary>
    public const int MaxIndirectDescriptors = 1024;

    private const ushort DescriptorNext = 1;
    private const ushort DescriptorWrite = 2;
    private const ushort DescriptorIndirect = 4;
    private const ushort AvailNoInterrupt = 1;
    private const int DescriptorSize = 16;

    private readonly GuestRam _ram;
    private readonly Action<string> _report;
    private ushort _lastAvailIndex;
    private ushort _usedIndex;
    private bool _completedSinceInterrupt;

    internal Virtqueue(GuestRam ram, int index, ushort maxSize, Action<string> report)
    {
        _ram = ram;
        _report = report;
        Index = index;
        MaxSize = maxSize;
        Reset();
    }

    /// <summary>The queue's index within its device.</summary>
    public int Index { get; }

    /// <summary>QueueNumMax.</summary>
    public ushort MaxSize { get; }

    /// <summary>QueueNum as last written by the driver (validated when the queue is made ready).</summary>
    public uint Size { get; internal set; }

    /// <summary>Guest-physical address of the descriptor table.</summary>
    public ulong DescriptorTableAddress { get; internal set; }

    /// <summary>Guest-physical address of the available (driver) ring.</summary>
    public ulong AvailableRingAddress { get; internal set; }

    /// <summary>Guest-physical address of the used (device) ring.</summary>
    public ulong UsedRingAddress { get; internal set; }

    /// <summary>QueueReady: the driver enabled the queue and its layout was valid.</summary>
    public bool IsReady { get; private set; }

    /// <summary>Why the queue stopped (null while healthy).</summary>
    public string? BrokenReason { get; private set; }

    /// <summary>True once the ring was found malformed; cleared by a device reset.</summary>
    public bool IsBroken => BrokenReason is not null;

    /// <summary>Whether the driver negotiated VIRTIO_RING_F_INDIRECT_DESC.</summary>
    internal bool IndirectEnabled { get; set; }

    /// <summary>Marks the ring as unusable: no more chains are popped until the device is reset.</summary>
    public void MarkBroken(string reason)
    {
        BrokenReason ??= $"queue {Index}: {reason}";
    }

    /// <summary>Logs a per-request problem (the request itself was completed with an error status).</summary>
    public void ReportError(string message) => _report($"queue {Index}: {message}");

    /// <summary>
    /// Pops the next available chain. False when the queue is empty, not ready or broken (a malformed ring marks it
    /// broken and returns false).
    /// </summary>
    public bool TryPop(out VirtqueueChain chain)
    {
        chain = null!;
        if (!IsReady || IsBroken)
        {
            return false;
        }

        if (!_ram.TryGetSpan(AvailableRingAddress, 4 + (2 * (int)Size), out var avail))
        {
            MarkBroken($"available ring 0x{AvailableRingAddress:x} is outside guest RAM");
            return false;
        }

        ushort availIndex = BinaryPrimitives.ReadUInt16LittleEndian(avail[2..]);
        ushort outstanding = (ushort)(availIndex - _lastAvailIndex);
        if (outstanding == 0)
        {
            return false;
        }

        if (outstanding > Size)
        {
            MarkBroken($"available index jumped from {_lastAvailIndex} to {availIndex}, more than the queue size {Size}");
            return false;
        }

        ushort head = BinaryPrimitives.ReadUInt16LittleEndian(avail[(4 + (2 * (int)(_lastAvailIndex % Size)))..]);
        _lastAvailIndex++;
        if (!TryWalk(head, out chain, out string? error))
        {
            MarkBroken($"chain at head {head}: {error}");
            return false;
        }

        return true;
    }

    /// <summary>
    /// Gives back the last <paramref name="count"/> chains popped and not completed, so the next <see cref="TryPop"/>
    /// returns them again (a receive buffer looked at but not used: the frame waits for more buffers).
    /// </summary>
    internal void Unpop(int count)
    {
        if (count < 0 || count > Size)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, $"0..{Size} chains can be given back");
        }

        _lastAvailIndex = (ushort)(_lastAvailIndex - count);
    }

    /// <summary>
    /// Puts a chain on the used ring with the number of bytes the device wrote into its writable buffers.
    /// </summary>
    public void Complete(VirtqueueChain chain, uint writtenLength)
    {
        ArgumentNullException.ThrowIfNull(chain);
        if (!IsReady || IsBroken)
        {
            return;
        }

        if (!_ram.TryGetWritableSpan(UsedRingAddress, 4 + (8 * (int)Size), out var used))
        {
            MarkBroken($"used ring 0x{UsedRingAddress:x} is outside guest RAM");
            return;
        }

        var element = used[(4 + (8 * (int)(_usedIndex % Size)))..];
        BinaryPrimitives.WriteUInt32LittleEndian(element, chain.HeadIndex);
        BinaryPrimitives.WriteUInt32LittleEndian(element[4..], writtenLength);
        _usedIndex++;
        BinaryPrimitives.WriteUInt16LittleEndian(used[2..], _usedIndex);
        _completedSinceInterrupt = true;
    }

    /// <summary>
    /// True when chains were completed since the last call and the driver did not suppress interrupts
    /// (VIRTQ_AVAIL_F_NO_INTERRUPT); resets the completion flag.
    /// </summary>
    internal bool TakeInterruptRequest()
    {
        if (!_completedSinceInterrupt)
        {
            return false;
        }

        _completedSinceInterrupt = false;
        if (_ram.TryGetSpan(AvailableRingAddress, 2, out var flags)
            && (BinaryPrimitives.ReadUInt16LittleEndian(flags) & AvailNoInterrupt) != 0)
        {
            return false;
        }

        return true;
    }

    /// <summary>Validates the layout the driver programmed and starts the queue at index 0. Returns the problem, or null.</summary>
    internal string? Activate()
    {
        IsReady = false;
        uint size = Size;
        if (size == 0 || size > MaxSize || (size & (size - 1)) != 0)
        {
            return $"queue {Index}: size {size} is not a power of two in 1..{MaxSize}";
        }

        string? problem = CheckArea("descriptor table", DescriptorTableAddress, 16 * (ulong)size, 16)
            ?? CheckArea("available ring", AvailableRingAddress, 6 + (2 * (ulong)size), 2)
            ?? CheckArea("used ring", UsedRingAddress, 6 + (8 * (ulong)size), 4);
        if (problem is not null)
        {
            return problem;
        }

        _lastAvailIndex = 0;
        _usedIndex = 0;
        _completedSinceInterrupt = false;
        IsReady = true;
        return null;
    }

    /// <summary>The driver wrote 0 to QueueReady.</summary>
    internal void Deactivate() => IsReady = false;

    /// <summary>Writes the queue's configuration and ring positions (part of the transport's state section).</summary>
    internal void SaveState(Backup.Hypervisor.Snapshots.StateWriter writer)
    {
        writer.WriteU32(Size);
        writer.WriteU64(DescriptorTableAddress);
        writer.WriteU64(AvailableRingAddress);
        writer.WriteU64(UsedRingAddress);
        writer.WriteBool(IsReady);
        writer.WriteString(BrokenReason ?? string.Empty);
        writer.WriteBool(IndirectEnabled);
        writer.WriteU16(_lastAvailIndex);
        writer.WriteU16(_usedIndex);
        writer.WriteBool(_completedSinceInterrupt);
    }

    internal void RestoreState(Backup.Hypervisor.Snapshots.StateReader reader)
    {
        uint size = reader.ReadU32();
        if (size > MaxSize)
        {
            throw reader.Fail($"queue {Index} size {size} exceeds its maximum {MaxSize}");
        }

        Size = size;
        DescriptorTableAddress = reader.ReadU64();
        AvailableRingAddress = reader.ReadU64();
        UsedRingAddress = reader.ReadU64();
        IsReady = reader.ReadBool();
        string broken = reader.ReadString();
        BrokenReason = broken.Length == 0 ? null : broken;
        IndirectEnabled = reader.ReadBool();
        _lastAvailIndex = reader.ReadU16();
        _usedIndex = reader.ReadU16();
        _completedSinceInterrupt = reader.ReadBool();
    }

    /// <summary>Back to the power-on state.</summary>
    internal void Reset()
    {
        IsReady = false;
        Size = MaxSize;
        DescriptorTableAddress = 0;
        AvailableRingAddress = 0;
        UsedRingAddress = 0;
        BrokenReason = null;
        IndirectEnabled = false;
        _lastAvailIndex = 0;
        _usedIndex = 0;
        _completedSinceInterrupt = false;
    }

    private string? CheckArea(string what, ulong address, ulong length, ulong alignment)
    {
        if (address % alignment != 0)
        {
            return $"queue {Index}: {what} address 0x{address:x} is not {alignment}-byte aligned";
        }

        return _ram.Contains(address, length) ? null : $"queue {Index}: {what} [0x{address:x}, +0x{length:x}) is not set or outside guest RAM";
    }

    private bool TryWalk(ushort head, out VirtqueueChain chain, out string? error)
    {
        chain = null!;
        var buffers = new List<VirtqueueBuffer>();
        string? defect = null;
        bool sawWritable = false;
        ulong table = DescriptorTableAddress;
        uint tableSize = Size;
        bool inIndirect = false;
        uint index = head;
        uint visited = 0;
        while (true)
        {
            if (index >= tableSize)
            {
                error = $"descriptor index {index} is out of range (table of {tableSize})";
                return false;
            }

            if (++visited > tableSize)
            {
                error = $"chain is longer than its table of {tableSize} descriptors (a loop?)";
                return false;
            }

            if (!_ram.TryGetSpan(table + ((ulong)index * DescriptorSize), DescriptorSize, out var descriptor))
            {
                error = $"descriptor {index} at 0x{table + ((ulong)index * DescriptorSize):x} is outside guest RAM";
                return false;
            }

            ulong address = BinaryPrimitives.ReadUInt64LittleEndian(descriptor);
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(descriptor[8..]);
            ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(descriptor[12..]);
            ushort next = BinaryPrimitives.ReadUInt16LittleEndian(descriptor[14..]);

            if ((flags & DescriptorIndirect) != 0)
            {
                if (inIndirect)
                {
                    error = "an indirect descriptor inside an indirect table";
                    return false;
                }

                if (!IndirectEnabled)
                {
                    error = "an indirect descriptor, but VIRTIO_RING_F_INDIRECT_DESC was not negotiated";
                    return false;
                }

                if ((flags & DescriptorNext) != 0)
                {
                    error = "an indirect descriptor that also has VIRTQ_DESC_F_NEXT";
                    return false;
                }

                if (length == 0 || length % DescriptorSize != 0 || length / DescriptorSize > MaxIndirectDescriptors)
                {
                    error = $"indirect table length {length} is not a multiple of 16 in 16..{MaxIndirectDescriptors * DescriptorSize}";
                    return false;
                }

                // The spec sets no alignment for indirect tables (Linux's kmalloc gives 8 bytes): only bounds matter.
                if (!_ram.Contains(address, length))
                {
                    error = $"indirect table [0x{address:x}, +0x{length:x}) is outside guest RAM";
                    return false;
                }

                table = address;
                tableSize = length / DescriptorSize;
                inIndirect = true;
                index = 0;
                visited = 0;
                continue;
            }

            bool writable = (flags & DescriptorWrite) != 0;
            if (!writable && sawWritable)
            {
                defect ??= $"device-readable descriptor {index} follows a device-writable one";
            }

            sawWritable |= writable;
            if (length != 0 && !_ram.Contains(address, length))
            {
                defect ??= $"descriptor {index} buffer [0x{address:x}, +0x{length:x}) is outside guest RAM";
            }

            buffers.Add(new VirtqueueBuffer(address, length, writable));
            if ((flags & DescriptorNext) == 0)
            {
                break;
            }

            index = next;
        }

        error = null;
        chain = new VirtqueueChain(_ram, head, [.. buffers], defect);
        return true;
    }
}
