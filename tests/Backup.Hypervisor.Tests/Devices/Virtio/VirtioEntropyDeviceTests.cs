using System.Buffers.Binary;
using Backup.Hypervisor.Devices.Virtio;
using Backup.Hypervisor.Memory;

namespace Backup.Hypervisor.Tests.Devices.Virtio;

/// <summary>The virtio entropy device on its transport, driven through the registers as Linux's virtio-rng does.</summary>
public sealed class VirtioEntropyDeviceTests : IDisposable
{
    private const ulong RamBase = 0x8000_0000;
    private const ulong Desc = RamBase + 0x1000;
    private const ulong Avail = RamBase + 0x2000;
    private const ulong Used = RamBase + 0x3000;
    private const ulong Data = RamBase + 0x10000;
    private const ushort Size = 8;

    private readonly GuestRam _ram = new(RamBase, 1 << 20);
    private readonly RecordingInterruptLine _line = new();
    private readonly List<string> _errors = [];
    private readonly VirtioEntropyDevice _device = new();
    private readonly VirtioMmioTransport _transport;
    private ushort _availIndex;

    public VirtioEntropyDeviceTests()
    {
        _transport = new VirtioMmioTransport(0x1000_9000, _ram, _device, _line, _errors.Add, "virtio-rng");
    }

    public void Dispose() => _ram.Dispose();

    [Fact]
    public void Identifies_as_an_entropy_device_with_one_queue_and_no_features_of_its_own()
    {
        Assert.Equal(4u, Reg(0x008));
        Assert.Equal(0u, Reg(0x010) & (uint)VirtioFeatures.DeviceSpecificMask);
        Reg(0x030, 0);
        Assert.Equal((uint)VirtioEntropyDevice.QueueSize, Reg(0x034));
        Reg(0x030, 1);
        Assert.Equal(0u, Reg(0x034));
        Assert.Equal(0UL, _transport.Read(0x100, 4)); // no configuration space
    }

    [Fact]
    public void Fills_the_driver_buffer_with_random_bytes_and_interrupts()
    {
        Start();
        Span(Data, 64).Clear();
        Span(Data + 64, 64).Clear();
        Submit(0, Data, 64);
        Submit(1, Data + 64, 64);

        Assert.Equal(2, UsedIndex);
        Assert.Equal((0u, 64u), UsedElement(0));
        Assert.Equal((1u, 64u), UsedElement(1));
        Assert.True(_line.Level);
        // 64 random bytes are all zero with probability 2^-512; two requests never get the same bytes.
        Assert.Contains(Span(Data, 64).ToArray(), b => b != 0);
        Assert.False(Span(Data, 64).SequenceEqual(Span(Data + 64, 64)));
        Assert.Equal(128, _device.BytesProvided);
        Assert.Empty(_errors);
    }

    [Fact]
    public void A_huge_request_gets_at_most_the_per_request_cap()
    {
        Start();
        Submit(0, Data, 256 << 10);
        Assert.Equal((0u, (uint)VirtioEntropyDevice.MaxBytesPerRequest), UsedElement(0));
    }

    [Fact]
    public void A_device_readable_buffer_is_completed_empty_and_reported_and_the_queue_stays_usable()
    {
        Start();
        Span(Data, 16).Fill(0xAA);
        Submit(0, Data, 16, writable: false);
        Assert.Equal((0u, 0u), UsedElement(0));
        Assert.All(Span(Data, 16).ToArray(), b => Assert.Equal(0xAA, b));
        Assert.Contains(_errors, e => e.Contains("device-readable", StringComparison.Ordinal));

        Submit(1, Data + 0x100, 32);
        Assert.Equal((1u, 32u), UsedElement(1));
        Assert.Equal(0u, Reg(0x070) & VirtioDeviceStatus.DeviceNeedsReset);
    }

    [Fact]
    public void A_buffer_outside_guest_ram_is_completed_empty()
    {
        Start();
        Submit(0, 0x4000_0000, 64);
        Assert.Equal((0u, 0u), UsedElement(0));
        Assert.NotEmpty(_errors);
    }

    private void Start()
    {
        Reg(0x070, 0);
        Reg(0x070, VirtioDeviceStatus.Acknowledge | VirtioDeviceStatus.Driver);
        Reg(0x024, 1);
        Reg(0x020, 1); // VIRTIO_F_VERSION_1 (bit 32)
        Reg(0x070, VirtioDeviceStatus.Acknowledge | VirtioDeviceStatus.Driver | VirtioDeviceStatus.FeaturesOk);
        Assert.NotEqual(0u, Reg(0x070) & VirtioDeviceStatus.FeaturesOk);
        Reg(0x030, 0);
        Reg(0x038, Size);
        Reg(0x080, (uint)Desc);
        Reg(0x084, (uint)(Desc >> 32));
        Reg(0x090, (uint)Avail);
        Reg(0x094, (uint)(Avail >> 32));
        Reg(0x0A0, (uint)Used);
        Reg(0x0A4, (uint)(Used >> 32));
        Reg(0x044, 1);
        Reg(0x070, Reg(0x070) | VirtioDeviceStatus.DriverOk);
    }

    private void Submit(ushort descriptor, ulong address, uint length, bool writable = true)
    {
        var d = Span(Desc + ((ulong)descriptor * 16), 16);
        BinaryPrimitives.WriteUInt64LittleEndian(d, address);
        BinaryPrimitives.WriteUInt32LittleEndian(d[8..], length);
        BinaryPrimitives.WriteUInt16LittleEndian(d[12..], writable ? (ushort)2 : (ushort)0);
        BinaryPrimitives.WriteUInt16LittleEndian(d[14..], 0);
        BinaryPrimitives.WriteUInt16LittleEndian(Span(Avail + 4 + (2UL * (ulong)(_availIndex % Size)), 2), descriptor);
        _availIndex++;
        BinaryPrimitives.WriteUInt16LittleEndian(Span(Avail + 2, 2), _availIndex);
        Reg(0x050, 0);
    }

    private ushort UsedIndex => BinaryPrimitives.ReadUInt16LittleEndian(Span(Used + 2, 2));

    private (uint Id, uint Length) UsedElement(int slot)
    {
        var e = Span(Used + 4 + ((ulong)slot * 8), 8);
        return (BinaryPrimitives.ReadUInt32LittleEndian(e), BinaryPrimitives.ReadUInt32LittleEndian(e[4..]));
    }

    private uint Reg(ulong offset) => (uint)_transport.Read(offset, 4);

    private void Reg(ulong offset, uint value) => _transport.Write(offset, 4, value);

    private Span<byte> Span(ulong address, int length)
    {
        Assert.True(_ram.TryGetSpan(address, length, out var span));
        return span;
    }
}
