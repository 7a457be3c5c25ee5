using Backup.Hypervisor.Devices.Virtio;
using static Backup.Hypervisor.Tests.Devices.Virtio.VirtioDriverStub;

namespace Backup.Hypervisor.Tests.Devices.Virtio;

/// <summary>The virtio entropy device on its transport, driven through the registers as Linux's virtio-rng does.</summary>
public sealed class VirtioEntropyDeviceTests : IDisposable
{
    private readonly VirtioEntropyDevice _device = new();
    private readonly VirtioDriverStub _driver;

    public VirtioEntropyDeviceTests()
    {
        _driver = new VirtioDriverStub((ram, line, errors) => new VirtioMmioTransport(0x1000_9000, ram, _device, line, errors.Add, "virtio-rng"));
    }

    public void Dispose() => _driver.Dispose();

    [Fact]
    public void Identifies_as_an_entropy_device_with_one_queue_and_no_features_of_its_own()
    {
        Assert.Equal(4u, _driver.Reg(0x008));
        Assert.Equal(0u, _driver.Reg(0x010) & (uint)VirtioFeatures.DeviceSpecificMask);
        _driver.Reg(0x030, 0);
        Assert.Equal((uint)VirtioEntropyDevice.QueueSize, _driver.Reg(0x034));
        _driver.Reg(0x030, 1);
        Assert.Equal(0u, _driver.Reg(0x034));
        Assert.Equal(0UL, _driver.Transport.Read(0x100, 4)); // no configuration space
    }

    [Fact]
    public void Fills_the_driver_buffer_with_random_bytes_and_interrupts()
    {
        _driver.Start(1);
        _driver.Span(Data, 128).Clear();
        _driver.Post(0, 0, Data, 64, writable: true);
        _driver.Post(0, 1, Data + 64, 64, writable: true);

        Assert.Equal(2, _driver.UsedIndex(0));
        Assert.Equal((0u, 64u), _driver.UsedElement(0, 0));
        Assert.Equal((1u, 64u), _driver.UsedElement(0, 1));
        Assert.True(_driver.Line.Level);
        // 64 random bytes are all zero with probability 2^-512; two requests never get the same bytes.
        Assert.Contains(_driver.Span(Data, 64).ToArray(), b => b != 0);
        Assert.False(_driver.Span(Data, 64).SequenceEqual(_driver.Span(Data + 64, 64)));
        Assert.Equal(128, _device.BytesProvided);
        Assert.Empty(_driver.Errors);
    }

    [Fact]
    public void A_huge_request_gets_at_most_the_per_request_cap()
    {
        _driver.Start(1);
        _driver.Post(0, 0, Data, 256 << 10, writable: true);
        Assert.Equal((0u, (uint)VirtioEntropyDevice.MaxBytesPerRequest), _driver.UsedElement(0, 0));
    }

    [Fact]
    public void A_device_readable_buffer_is_completed_empty_and_reported_and_the_queue_stays_usable()
    {
        _driver.Start(1);
        _driver.Span(Data, 16).Fill(0xAA);
        _driver.Post(0, 0, Data, 16, writable: false);
        Assert.Equal((0u, 0u), _driver.UsedElement(0, 0));
        Assert.All(_driver.Span(Data, 16).ToArray(), b => Assert.Equal(0xAA, b));
        Assert.Contains(_driver.Errors, e => e.Contains("device-readable", StringComparison.Ordinal));

        _driver.Post(0, 1, Data + 0x100, 32, writable: true);
        Assert.Equal((1u, 32u), _driver.UsedElement(0, 1));
        Assert.Equal(0u, _driver.Reg(0x070) & VirtioDeviceStatus.DeviceNeedsReset);
    }

    [Fact]
    public void A_buffer_outside_guest_ram_is_completed_empty()
    {
        _driver.Start(1);
        _driver.Post(0, 0, 0x4000_0000, 64, writable: true);
        Assert.Equal((0u, 0u), _driver.UsedElement(0, 0));
        Assert.NotEmpty(_driver.Errors);
    }

    [Fact]
    public void A_reproducible_device_replays_the_same_stream_from_a_saved_position()
    {
        byte[] first = Draw(new VirtioEntropyDevice(reproducible: true), 100, out _);
        byte[] again = Draw(new VirtioEntropyDevice(reproducible: true), 100, out _);
        Assert.Equal(first, again);
        Assert.Contains(first, b => b != 0);

        // Save after 40 bytes; a restored device continues with exactly the bytes the original gives next.
        var original = new VirtioEntropyDevice(reproducible: true);
        Draw(original, 40, out _);
        var state = new Backup.Hypervisor.Snapshots.StateWriter();
        original.SaveState(state);
        byte[] next = Draw(original, 60, out _);
        var restored = new VirtioEntropyDevice(reproducible: true);
        restored.RestoreState(new Backup.Hypervisor.Snapshots.StateReader(state.ToArray(), "virtio-rng-source"), 1);
        Assert.Equal(next, Draw(restored, 60, out _));
        Assert.Equal(first[40..], next);

        Assert.NotEqual(first, Draw(new VirtioEntropyDevice(), 100, out _)); // the host's generator, not the stream
    }

    private static byte[] Draw(VirtioEntropyDevice device, int bytes, out List<string> errors)
    {
        var log = new List<string>();
        using var driver = new VirtioDriverStub((ram, line, e) => new VirtioMmioTransport(0x1000_9000, ram, device, line, log.Add, "virtio-rng"));
        driver.Start(1);
        driver.Post(0, 0, Data, (uint)bytes, writable: true);
        errors = log;
        Assert.Equal((0u, (uint)bytes), driver.UsedElement(0, 0));
        return driver.Span(Data, bytes).ToArray();
    }
}
