using System.Text;
using Backup.Hypervisor.Devices.Virtio;
using Backup.Hypervisor.Snapshots;
using static Backup.Hypervisor.Tests.Devices.Virtio.VirtioDriverStub;

namespace Backup.Hypervisor.Tests.Devices.Virtio;

/// <summary>The virtio console (hvc0) on its transport: output through transmitq, host input through receiveq.</summary>
public sealed class VirtioConsoleDeviceTests : IDisposable
{
    private readonly List<byte> _output = [];
    private readonly VirtioConsoleDevice _console;
    private readonly VirtioDriverStub _driver;

    public VirtioConsoleDeviceTests()
    {
        _console = new VirtioConsoleDevice(_output.Add);
        _driver = new VirtioDriverStub((ram, line, errors) => new VirtioMmioTransport(0x1000_A000, ram, _console, line, errors.Add, "virtio-console"));
    }

    public void Dispose() => _driver.Dispose();

    [Fact]
    public void Identifies_as_a_single_port_console_with_two_queues()
    {
        Assert.Equal(3u, _driver.Reg(0x008));
        Assert.Equal(0u, _driver.Reg(0x010) & (uint)VirtioFeatures.DeviceSpecificMask);
        _driver.Reg(0x030, 1);
        Assert.Equal((uint)VirtioConsoleDevice.QueueSize, _driver.Reg(0x034));
        _driver.Reg(0x030, 2);
        Assert.Equal(0u, _driver.Reg(0x034));
        Assert.Equal(1UL, _driver.Transport.Read(0x104, 4)); // max_nr_ports
    }

    [Fact]
    public void Transmitted_bytes_reach_the_console_sink()
    {
        _driver.Start(2);
        Encoding.ASCII.GetBytes("hello hvc0\n").CopyTo(_driver.Span(Data, 11));
        _driver.Post(1, 0, Data, 11, writable: false);

        Assert.Equal("hello hvc0\n", Encoding.ASCII.GetString([.. _output]));
        Assert.Equal((0u, 0u), _driver.UsedElement(1, 0));
        Assert.Equal(11, _console.BytesTransmitted);
        Assert.True(_driver.Line.Level);
    }

    [Fact]
    public void Host_input_waits_for_receive_buffers_and_fills_them_in_order()
    {
        _driver.Start(2);
        _console.EnqueueInput("ls -l\n"u8);
        new VirtioConsolePoller(_driver.Transport, _console).Poll(0);
        Assert.Equal(0, _driver.UsedIndex(0)); // no buffer posted yet: nothing delivered, nothing lost

        _driver.Post(0, 0, Data, 4, writable: true);
        Assert.Equal((0u, 4u), _driver.UsedElement(0, 0));
        Assert.Equal("ls -", Encoding.ASCII.GetString(_driver.Span(Data, 4)));
        Assert.True(_console.HasPendingInput);

        _driver.Post(0, 1, Data + 0x100, 64, writable: true, notify: false);
        new VirtioConsolePoller(_driver.Transport, _console).Poll(0);
        Assert.Equal((1u, 2u), _driver.UsedElement(0, 1));
        Assert.Equal("l\n", Encoding.ASCII.GetString(_driver.Span(Data + 0x100, 2)));
        Assert.False(_console.HasPendingInput);
        Assert.Equal(6, _console.BytesReceived);
    }

    [Fact]
    public void Pending_input_survives_a_checkpoint_and_is_bounded()
    {
        _console.EnqueueInput(new byte[VirtioConsoleDevice.InputLimit + 100]);
        _console.EnqueueInput("x"u8);
        var writer = new StateWriter();
        _console.SaveState(writer);

        var restored = new VirtioConsoleDevice(_ => { });
        restored.RestoreState(new StateReader(writer.ToArray(), "virtio-console-port"), 1);
        Assert.True(restored.HasPendingInput);
        var again = new StateWriter();
        restored.SaveState(again);
        Assert.Equal(writer.ToArray(), again.ToArray());
        Assert.Equal(4 + VirtioConsoleDevice.InputLimit, writer.ToArray().Length);
        Assert.Throws<VmStateFormatException>(() => restored.RestoreState(new StateReader(writer.ToArray(), "virtio-console-port"), 2));
    }

    [Fact]
    public void A_device_writable_buffer_on_transmitq_is_reported_and_the_queue_stays_usable()
    {
        _driver.Start(2);
        _driver.Post(1, 0, Data, 8, writable: true);
        Assert.Equal((0u, 0u), _driver.UsedElement(1, 0));
        Assert.Contains(_driver.Errors, e => e.Contains("device-writable", StringComparison.Ordinal));
        Assert.Empty(_output);

        "ok"u8.CopyTo(_driver.Span(Data + 0x10, 2));
        _driver.Post(1, 1, Data + 0x10, 2, writable: false);
        Assert.Equal("ok", Encoding.ASCII.GetString([.. _output]));
    }
}
