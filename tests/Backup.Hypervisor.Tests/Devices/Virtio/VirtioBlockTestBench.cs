using System.Buffers.Binary;
using Backup.Disks.BlockDevices;
using Backup.Hypervisor.Devices.Virtio;
using Backup.Hypervisor.Memory;

namespace Backup.Hypervisor.Tests.Devices.Virtio;

/// <summary>
/// A virtio-blk device on a virtio-mmio transport over a temporary raw disk, plus a minimal guest driver that lays
/// out a split virtqueue in 1 MiB of guest RAM at 0x80000000 and talks to the transport through its registers.
/// </summary>
public sealed class VirtioBlockTestBench : IDisposable
{
    public const ulong RamBase = 0x8000_0000;
    public const ulong RamSize = 1 << 20;
    public const ulong DescriptorTable = RamBase + 0x1000;
    public const ulong AvailRing = RamBase + 0x2000;
    public const ulong UsedRing = RamBase + 0x3000;
    public const ulong IndirectTable = RamBase + 0x4000;
    public const ulong DataArea = RamBase + 0x10000;
    public const ushort QueueSize = 16;
    public const int DiskSectors = 64;

    public const ulong Status = 0x070;
    public const ulong QueueNotify = 0x050;
    public const ulong InterruptStatus = 0x060;
    public const ulong InterruptAck = 0x064;
    public const ulong QueueSel = 0x030;
    public const ulong QueueNumMax = 0x034;
    public const ulong QueueNum = 0x038;
    public const ulong QueueReady = 0x044;

    public const ushort DescNext = 1;
    public const ushort DescWrite = 2;
    public const ushort DescIndirect = 4;

    private ushort _nextDescriptor;
    private ushort _availIndex;
    private ulong _bump = DataArea;

    /// <param name="wrapDisk">Puts a test disk (e.g. a <see cref="WriteBackCacheDisk"/>) between the device and the raw file.</param>
    public VirtioBlockTestBench(bool readOnlyFile = false, bool presentReadOnly = false, ushort maxQueueSize = QueueSize,
        Func<IBlockDevice, IBlockDevice>? wrapDisk = null)
    {
        DiskPath = Path.Combine(Path.GetTempPath(), $"virtio-blk-{Guid.NewGuid():N}.img");
        File.WriteAllBytes(DiskPath, InitialContent());
        Disk = RawFileDisk.Open(DiskPath, readOnlyFile);
        Ram = new GuestRam(RamBase, RamSize);
        Block = new VirtioBlockDevice(wrapDisk is null ? Disk : wrapDisk(Disk), "backup-disk-0", presentReadOnly, maxQueueSize);
        Transport = new VirtioMmioTransport(0x1000_1000, Ram, Block, Line, Errors.Add);
    }

    public string DiskPath { get; }

    public RawFileDisk Disk { get; }

    public GuestRam Ram { get; }

    public VirtioBlockDevice Block { get; }

    public VirtioMmioTransport Transport { get; }

    public RecordingInterruptLine Line { get; } = new();

    public List<string> Errors { get; } = [];

    public bool NeedsReset => (Reg(Status) & VirtioDeviceStatus.DeviceNeedsReset) != 0;

    public ushort UsedIndex => BinaryPrimitives.ReadUInt16LittleEndian(Span(UsedRing + 2, 2));

    /// <summary>The disk's initial bytes: byte k of sector s is (s * 31 + k) mod 251.</summary>
    public static byte[] InitialContent()
    {
        var bytes = new byte[DiskSectors * 512];
        for (int i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)((i / 512 * 31 + (i % 512)) % 251);
        }

        return bytes;
    }

    public uint Reg(ulong offset) => (uint)Transport.Read(offset, 4);

    public void SetReg(ulong offset, uint value) => Transport.Write(offset, 4, value);

    public ulong OfferedFeatures()
    {
        SetReg(0x014, 0);
        ulong low = Reg(0x010);
        SetReg(0x014, 1);
        return low | ((ulong)Reg(0x010) << 32);
    }

    /// <summary>Linux's sequence up to FEATURES_OK; returns whether FEATURES_OK stuck.</summary>
    public bool Negotiate(ulong? accept = null)
    {
        SetReg(Status, 0);
        SetReg(Status, VirtioDeviceStatus.Acknowledge);
        SetReg(Status, VirtioDeviceStatus.Acknowledge | VirtioDeviceStatus.Driver);
        ulong features = accept ?? OfferedFeatures();
        SetReg(0x024, 0);
        SetReg(0x020, (uint)features);
        SetReg(0x024, 1);
        SetReg(0x020, (uint)(features >> 32));
        SetReg(Status, VirtioDeviceStatus.Acknowledge | VirtioDeviceStatus.Driver | VirtioDeviceStatus.FeaturesOk);
        return (Reg(Status) & VirtioDeviceStatus.FeaturesOk) != 0;
    }

    public void SetupQueue(uint size = QueueSize, ulong desc = DescriptorTable, ulong avail = AvailRing, ulong used = UsedRing)
    {
        Span(DescriptorTable, 0x3000).Clear();
        SetReg(QueueSel, 0);
        SetReg(QueueNum, size);
        SetReg(0x080, (uint)desc);
        SetReg(0x084, (uint)(desc >> 32));
        SetReg(0x090, (uint)avail);
        SetReg(0x094, (uint)(avail >> 32));
        SetReg(0x0A0, (uint)used);
        SetReg(0x0A4, (uint)(used >> 32));
        SetReg(QueueReady, 1);
        _availIndex = 0;
        _nextDescriptor = 0;
    }

    public void DriverOk() => SetReg(Status, Reg(Status) | VirtioDeviceStatus.DriverOk);

    /// <summary>Negotiates everything offered, sets up queue 0 and sets DRIVER_OK.</summary>
    public void Start(ulong? accept = null)
    {
        Assert.True(Negotiate(accept));
        SetupQueue();
        DriverOk();
        Assert.Equal(1u, Reg(QueueReady));
    }

    public Span<byte> Span(ulong address, int length)
    {
        Assert.True(Ram.TryGetSpan(address, length, out var span));
        return span;
    }

    public ulong Alloc(int bytes, byte fill = 0)
    {
        ulong address = _bump;
        _bump += (ulong)((bytes + 15) & ~15);
        Span(address, bytes).Fill(fill);
        return address;
    }

    public void ResetAllocator() => _bump = DataArea;

    public void WriteDescriptor(ulong table, int index, ulong address, uint length, ushort flags, ushort next)
    {
        var d = Span(table + ((ulong)index * 16), 16);
        BinaryPrimitives.WriteUInt64LittleEndian(d, address);
        BinaryPrimitives.WriteUInt32LittleEndian(d[8..], length);
        BinaryPrimitives.WriteUInt16LittleEndian(d[12..], flags);
        BinaryPrimitives.WriteUInt16LittleEndian(d[14..], next);
    }

    /// <summary>Writes the segments as a chain of direct descriptors; returns the head index.</summary>
    public ushort WriteDirectChain(params GuestSegment[] segments)
    {
        ushort head = _nextDescriptor;
        for (int i = 0; i < segments.Length; i++)
        {
            ushort index = (ushort)((head + i) % QueueSize);
            ushort next = (ushort)((head + i + 1) % QueueSize);
            bool last = i == segments.Length - 1;
            WriteDescriptor(DescriptorTable, index, segments[i].Address, segments[i].Length,
                (ushort)((segments[i].Writable ? DescWrite : 0) | (last ? 0 : DescNext)), last ? (ushort)0 : next);
        }

        _nextDescriptor = (ushort)((head + segments.Length) % QueueSize);
        return head;
    }

    /// <summary>Writes the segments into an indirect table referenced by one direct descriptor; returns its index.</summary>
    public ushort WriteIndirectChain(params GuestSegment[] segments)
    {
        for (int i = 0; i < segments.Length; i++)
        {
            bool last = i == segments.Length - 1;
            WriteDescriptor(IndirectTable, i, segments[i].Address, segments[i].Length,
                (ushort)((segments[i].Writable ? DescWrite : 0) | (last ? 0 : DescNext)), last ? (ushort)0 : (ushort)(i + 1));
        }

        ushort head = _nextDescriptor;
        WriteDescriptor(DescriptorTable, head, IndirectTable, (uint)(segments.Length * 16), DescIndirect, 0);
        _nextDescriptor = (ushort)((head + 1) % QueueSize);
        return head;
    }

    public void Publish(ushort head)
    {
        var avail = Span(AvailRing, 4 + (2 * QueueSize));
        BinaryPrimitives.WriteUInt16LittleEndian(avail[(4 + (2 * (_availIndex % QueueSize)))..], head);
        _availIndex++;
        BinaryPrimitives.WriteUInt16LittleEndian(avail[2..], _availIndex);
    }

    /// <summary>Sets the available ring's idx directly (for hostile-guest tests).</summary>
    public void SetAvailIndex(ushort index) => BinaryPrimitives.WriteUInt16LittleEndian(Span(AvailRing + 2, 2), index);

    public void SetAvailFlags(ushort flags) => BinaryPrimitives.WriteUInt16LittleEndian(Span(AvailRing, 2), flags);

    public void Notify() => SetReg(QueueNotify, 0);

    public (uint Id, uint Length) UsedElement(int slot)
    {
        var e = Span(UsedRing + 4 + ((ulong)(slot % QueueSize) * 8), 8);
        return (BinaryPrimitives.ReadUInt32LittleEndian(e), BinaryPrimitives.ReadUInt32LittleEndian(e[4..]));
    }

    /// <summary>Builds a header (16 bytes) for a block request.</summary>
    public ulong Header(uint type, ulong sector)
    {
        ulong address = Alloc(16);
        var h = Span(address, 16);
        BinaryPrimitives.WriteUInt32LittleEndian(h, type);
        BinaryPrimitives.WriteUInt64LittleEndian(h[8..], sector);
        return address;
    }

    /// <summary>
    /// Submits a chain, notifies, and returns the status byte (0xFF = untouched) and the used length, asserting that
    /// exactly one used element was produced for it.
    /// </summary>
    public (byte Status, uint UsedLength) Submit(ulong statusAddress, bool indirect, params GuestSegment[] segments)
    {
        ushort before = UsedIndex;
        ushort head = indirect ? WriteIndirectChain(segments) : WriteDirectChain(segments);
        Publish(head);
        Notify();
        Assert.Equal((ushort)(before + 1), UsedIndex);
        var (id, length) = UsedElement(before);
        Assert.Equal(head, id);
        return (Span(statusAddress, 1)[0], length);
    }

    /// <summary>A complete block request laid out as Linux does: header, data segments, status.</summary>
    public (byte Status, uint UsedLength) Request(uint type, ulong sector, ulong dataAddress, uint dataLength, bool dataWritable, bool indirect = false)
    {
        ulong header = Header(type, sector);
        ulong status = Alloc(1, 0xFF);
        var segments = new List<GuestSegment> { new(header, 16, false) };
        if (dataLength > 0)
        {
            segments.Add(new GuestSegment(dataAddress, dataLength, dataWritable));
        }

        segments.Add(new GuestSegment(status, 1, true));
        return Submit(status, indirect, [.. segments]);
    }

    public byte[] ReadDiskFile()
    {
        using var stream = new FileStream(DiskPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    public void Dispose()
    {
        Disk.Dispose();
        Ram.Dispose();
        File.Delete(DiskPath);
    }
}
