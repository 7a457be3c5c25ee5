using System.Buffers.Binary;
using Backup.Hypervisor.Devices.Virtio;
using Backup.Hypervisor.Memory;

namespace Backup.Hypervisor.Tests.Devices.Virtio;

/// <summary>
/// A minimal guest driver for one virtio device on its transport: 1 MiB of RAM at 0x80000000, split queues of
/// <see cref="Size"/> entries laid out per queue (descriptors, available ring, used ring), one descriptor per request.
/// </summary>
public sealed class VirtioDriverStub : IDisposable
{
    public const ulong RamBase = 0x8000_0000;
    public const ulong Data = RamBase + 0x40000;
    public const ushort Size = 8;

    private readonly ushort[] _availIndex = new ushort[16];

    public VirtioDriverStub(Func<GuestRam, RecordingInterruptLine, List<string>, VirtioMmioTransport> create)
    {
        Transport = create(Ram, Line, Errors);
    }

    public GuestRam Ram { get; } = new(RamBase, 1 << 20);

    public RecordingInterruptLine Line { get; } = new();

    public List<string> Errors { get; } = [];

    public VirtioMmioTransport Transport { get; }

    public void Dispose() => Ram.Dispose();

    public uint Reg(ulong offset) => (uint)Transport.Read(offset, 4);

    public void Reg(ulong offset, uint value) => Transport.Write(offset, 4, value);

    /// <summary>
    /// Negotiates VERSION_1 plus the device-specific <paramref name="deviceFeatures"/> (bits 0..31), sets up queues
    /// 0..<paramref name="queues"/>-1 and sets DRIVER_OK.
    /// </summary>
    public void Start(int queues, uint deviceFeatures = 0)
    {
        Reg(0x070, 0);
        Reg(0x070, VirtioDeviceStatus.Acknowledge | VirtioDeviceStatus.Driver);
        Reg(0x024, 0);
        Reg(0x020, deviceFeatures);
        Reg(0x024, 1);
        Reg(0x020, 1); // VIRTIO_F_VERSION_1 (bit 32)
        Reg(0x070, VirtioDeviceStatus.Acknowledge | VirtioDeviceStatus.Driver | VirtioDeviceStatus.FeaturesOk);
        Assert.NotEqual(0u, Reg(0x070) & VirtioDeviceStatus.FeaturesOk);
        for (int q = 0; q < queues; q++)
        {
            Reg(0x030, (uint)q);
            Reg(0x038, Size);
            Reg(0x080, (uint)Desc(q));
            Reg(0x084, 0);
            Reg(0x090, (uint)Avail(q));
            Reg(0x094, 0);
            Reg(0x0A0, (uint)Used(q));
            Reg(0x0A4, 0);
            Reg(0x044, 1);
            Assert.Equal(1u, Reg(0x044));
        }

        Reg(0x070, Reg(0x070) | VirtioDeviceStatus.DriverOk);
    }

    /// <summary>Posts one buffer as descriptor <paramref name="descriptor"/> of queue <paramref name="queue"/>; notifies unless told not to.</summary>
    public void Post(int queue, ushort descriptor, ulong address, uint length, bool writable, bool notify = true)
    {
        var d = Span(Desc(queue) + ((ulong)descriptor * 16), 16);
        BinaryPrimitives.WriteUInt64LittleEndian(d, address);
        BinaryPrimitives.WriteUInt32LittleEndian(d[8..], length);
        BinaryPrimitives.WriteUInt16LittleEndian(d[12..], writable ? (ushort)2 : (ushort)0);
        BinaryPrimitives.WriteUInt16LittleEndian(d[14..], 0);
        ushort index = _availIndex[queue];
        BinaryPrimitives.WriteUInt16LittleEndian(Span(Avail(queue) + 4 + (2UL * (ulong)(index % Size)), 2), descriptor);
        _availIndex[queue] = ++index;
        BinaryPrimitives.WriteUInt16LittleEndian(Span(Avail(queue) + 2, 2), index);
        if (notify)
        {
            Reg(0x050, (uint)queue);
        }
    }

    public ushort UsedIndex(int queue) => BinaryPrimitives.ReadUInt16LittleEndian(Span(Used(queue) + 2, 2));

    public (uint Id, uint Length) UsedElement(int queue, int slot)
    {
        var e = Span(Used(queue) + 4 + ((ulong)(slot % Size) * 8), 8);
        return (BinaryPrimitives.ReadUInt32LittleEndian(e), BinaryPrimitives.ReadUInt32LittleEndian(e[4..]));
    }

    public Span<byte> Span(ulong address, int length)
    {
        Assert.True(Ram.TryGetSpan(address, length, out var span));
        return span;
    }

    private static ulong Desc(int queue) => RamBase + 0x1000 + ((ulong)queue * 0x4000);

    private static ulong Avail(int queue) => Desc(queue) + 0x1000;

    private static ulong Used(int queue) => Desc(queue) + 0x2000;
}
