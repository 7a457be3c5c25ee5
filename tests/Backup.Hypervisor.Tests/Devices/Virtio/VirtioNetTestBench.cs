using System.Buffers.Binary;
using Backup.Hypervisor.Devices.Virtio;
using Backup.Hypervisor.Memory;
using Backup.Network.Ethernet;
using Backup.TestSupport;

namespace Backup.Hypervisor.Tests.Devices.Virtio;

/// <summary>
/// A virtio-net device on its transport in 4 MiB of guest RAM, plugged into end A of an <see cref="InMemoryLinkPair"/>
/// (end B is the network the tests send from and read), plus a small guest driver: feature negotiation through the
/// registers, split queues of <see cref="QueueSize"/> entries, chains of several descriptors.
/// </summary>
public sealed class VirtioNetTestBench : IDisposable
{
    public const ulong RamBase = 0x8000_0000;
    public const ushort QueueSize = 16;
    public const ulong Status = 0x070;
    public const ulong InterruptStatus = 0x060;
    public const ulong InterruptAck = 0x064;
    public static readonly MacAddress NicMac = MacAddress.Parse("52:54:00:12:34:56");

    private readonly ushort[] _availIndex = new ushort[2];
    private readonly ushort[] _nextDescriptor = new ushort[2];
    private ulong _bump = RamBase + 0x10000;

    public VirtioNetTestBench(ulong offered = VirtioNetFeatures.Offered, int linkQueueFrames = 64)
    {
        Pair = new InMemoryLinkPair(queueFrames: linkQueueFrames);
        Nic = new VirtioNetDevice(NicMac, Pair.A, "virtio-net0", () => Interlocked.Increment(ref _wakes), offered);
        Transport = new VirtioMmioTransport(0x1000_C000, Ram, Nic, Line, Errors.Add, "virtio-net0");
    }

    private int _wakes;

    public GuestRam Ram { get; } = new(RamBase, 4 << 20);

    public InMemoryLinkPair Pair { get; }

    public VirtioNetDevice Nic { get; }

    public VirtioMmioTransport Transport { get; }

    public RecordingInterruptLine Line { get; } = new();

    public List<string> Errors { get; } = [];

    /// <summary>Times the device asked to wake the VM thread.</summary>
    public int Wakes => Volatile.Read(ref _wakes);

    public bool NeedsReset => (Reg(Status) & VirtioDeviceStatus.DeviceNeedsReset) != 0;

    public void Dispose()
    {
        Ram.Dispose();
        Pair.Dispose();
    }

    public uint Reg(ulong offset) => (uint)Transport.Read(offset, 4);

    public void Reg(ulong offset, uint value) => Transport.Write(offset, 4, value);

    /// <summary>Negotiates VERSION_1 plus <paramref name="features"/>, sets up both queues and sets DRIVER_OK.</summary>
    public void Start(ulong features)
    {
        ulong all = features | VirtioFeatures.Version1;
        Reg(Status, 0);
        Reg(Status, VirtioDeviceStatus.Acknowledge | VirtioDeviceStatus.Driver);
        Reg(0x024, 0);
        Reg(0x020, (uint)all);
        Reg(0x024, 1);
        Reg(0x020, (uint)(all >> 32));
        Reg(Status, VirtioDeviceStatus.Acknowledge | VirtioDeviceStatus.Driver | VirtioDeviceStatus.FeaturesOk);
        Assert.NotEqual(0u, Reg(Status) & VirtioDeviceStatus.FeaturesOk);
        for (int q = 0; q < 2; q++)
        {
            Reg(0x030, (uint)q);
            Reg(0x038, QueueSize);
            Reg(0x080, (uint)Desc(q));
            Reg(0x084, 0);
            Reg(0x090, (uint)Avail(q));
            Reg(0x094, 0);
            Reg(0x0A0, (uint)Used(q));
            Reg(0x0A4, 0);
            Reg(0x044, 1);
            Assert.Equal(1u, Reg(0x044));
        }

        Reg(Status, Reg(Status) | VirtioDeviceStatus.DriverOk);
    }

    /// <summary>Guest memory for a buffer (never reused).</summary>
    public ulong Allocate(int length)
    {
        ulong at = _bump;
        _bump += (ulong)((length + 15) & ~15);
        Assert.True(_bump <= RamBase + (4 << 20), "the bench ran out of guest RAM");
        return at;
    }

    /// <summary>Places <paramref name="data"/> in fresh guest memory and returns its address.</summary>
    public ulong Place(ReadOnlySpan<byte> data)
    {
        ulong at = Allocate(data.Length);
        data.CopyTo(Span(at, data.Length));
        return at;
    }

    /// <summary>Posts one chain of <paramref name="segments"/> on queue <paramref name="queue"/>; returns its head.</summary>
    public ushort PostChain(int queue, IReadOnlyList<GuestSegment> segments, bool notify = true)
    {
        ushort head = _nextDescriptor[queue];
        for (int i = 0; i < segments.Count; i++)
        {
            ushort index = (ushort)((head + i) % QueueSize);
            var d = Span(Desc(queue) + ((ulong)index * 16), 16);
            BinaryPrimitives.WriteUInt64LittleEndian(d, segments[i].Address);
            BinaryPrimitives.WriteUInt32LittleEndian(d[8..], segments[i].Length);
            bool last = i == segments.Count - 1;
            BinaryPrimitives.WriteUInt16LittleEndian(d[12..], (ushort)((segments[i].Writable ? 2 : 0) | (last ? 0 : 1)));
            BinaryPrimitives.WriteUInt16LittleEndian(d[14..], (ushort)((index + 1) % QueueSize));
        }

        _nextDescriptor[queue] = (ushort)((head + segments.Count) % QueueSize);
        ushort avail = _availIndex[queue];
        BinaryPrimitives.WriteUInt16LittleEndian(Span(Avail(queue) + 4 + (2UL * (ulong)(avail % QueueSize)), 2), head);
        _availIndex[queue] = ++avail;
        BinaryPrimitives.WriteUInt16LittleEndian(Span(Avail(queue) + 2, 2), avail);
        if (notify)
        {
            Reg(0x050, (uint)queue);
        }

        return head;
    }

    /// <summary>Sends a frame through the transmit queue: the header in one descriptor, the frame in another.</summary>
    public ushort Send(VirtioNetHeader header, ReadOnlySpan<byte> frame)
    {
        Span<byte> h = stackalloc byte[VirtioNetHeader.Size];
        header.Write(h);
        return PostChain(1, [new GuestSegment(Place(h), VirtioNetHeader.Size, false), new GuestSegment(Place(frame), (uint)frame.Length, false)]);
    }

    /// <summary>Posts one device-writable receive buffer of <paramref name="length"/> bytes; returns its address.</summary>
    public ulong PostReceive(int length, bool notify = true)
    {
        ulong at = Allocate(length);
        PostChain(0, [new GuestSegment(at, (uint)length, true)], notify);
        return at;
    }

    /// <summary>Runs the device's poller once, as the VM thread does between quanta.</summary>
    public void Poll() => new VirtioNetPoller(Transport, Nic).Poll(0);

    public ushort UsedIndex(int queue) => BinaryPrimitives.ReadUInt16LittleEndian(Span(Used(queue) + 2, 2));

    public (uint Id, uint Length) UsedElement(int queue, int slot)
    {
        var e = Span(Used(queue) + 4 + ((ulong)(slot % QueueSize) * 8), 8);
        return (BinaryPrimitives.ReadUInt32LittleEndian(e), BinaryPrimitives.ReadUInt32LittleEndian(e[4..]));
    }

    /// <summary>A frame from the network side (end B) into the NIC's queue; false when the link dropped it.</summary>
    public bool FromNetwork(ReadOnlySpan<byte> frame, FrameOffload offload = default) => Pair.B.Transmit(frame, offload);

    /// <summary>The next frame the NIC sent, as the network (end B) receives it.</summary>
    public (byte[] Frame, FrameOffload Offload)? ToNetwork()
    {
        var buffer = new byte[FrameLimits.MaximumSuperFrameLength];
        return Pair.B.TryReceive(buffer, out int length, out var offload) ? (buffer[..length], offload) : null;
    }

    public Span<byte> Span(ulong address, int length)
    {
        Assert.True(Ram.TryGetSpan(address, length, out var span));
        return span;
    }

    /// <summary>An Ethernet frame of <paramref name="length"/> bytes to the NIC from 52:54:00:00:00:02, bytes after the header i % 251.</summary>
    public static byte[] Frame(int length, ushort etherType = 0x0800)
    {
        var frame = new byte[length];
        NicMac.Write(frame);
        MacAddress.Parse("52:54:00:00:00:02").Write(frame.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), etherType);
        for (int i = 14; i < length; i++)
        {
            frame[i] = (byte)(i % 251);
        }

        return frame;
    }

    /// <summary>An IPv4/TCP frame of <paramref name="length"/> bytes whose TCP header (at 34) is 32 bytes long (data offset 8).</summary>
    public static byte[] TcpFrame(int length)
    {
        var frame = Frame(length);
        frame[14] = 0x45;
        frame[23] = 6;
        frame[34 + 12] = 8 << 4;
        return frame;
    }

    private static ulong Desc(int queue) => RamBase + 0x1000 + ((ulong)queue * 0x4000);

    private static ulong Avail(int queue) => Desc(queue) + 0x1000;

    private static ulong Used(int queue) => Desc(queue) + 0x2000;
}
