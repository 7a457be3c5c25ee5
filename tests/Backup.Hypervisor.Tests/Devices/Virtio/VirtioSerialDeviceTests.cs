using System.Buffers.Binary;
using System.Text;
using Backup.Hypervisor.Devices.Virtio;
using Backup.Hypervisor.Snapshots;
using static Backup.Hypervisor.Tests.Devices.Virtio.VirtioDriverStub;

namespace Backup.Hypervisor.Tests.Devices.Virtio;

/// <summary>
/// The multiport virtio console (virtio-serial) on hand-built virtqueues: the control handshake as Linux's
/// virtio_console drives it (DEVICE_READY, PORT_ADD, PORT_READY, PORT_NAME, PORT_OPEN), data both ways on port 1's
/// queues 4 and 5, checkpoints, and a hostile driver's malformed, unknown and flooding control messages. The device's
/// replies go out when the machine polls it (between quanta), as <see cref="SendControl"/> does after each message.
/// </summary>
public sealed class VirtioSerialDeviceTests : IDisposable
{
    private const int ControlRx = 2, ControlTx = 3, PortRx = 4, PortTx = 5;
    private const ulong ControlOut = Data + 0x1000, ControlIn = Data + 0x2000, PortIn = Data + 0x4000, PortOut = Data + 0x5000;

    private readonly List<byte> _fromGuest = [];
    private readonly List<bool> _connections = [];
    private readonly VirtioSerialPort _port;
    private readonly VirtioSerialDevice _device;
    private readonly VirtioDriverStub _driver;
    private ushort _controlTxDescriptor;
    private int _controlRxSeen;

    public VirtioSerialDeviceTests()
    {
        _port = new VirtioSerialPort(1, "org.qemu.guest_agent.0", _fromGuest.AddRange);
        _port.GuestConnectionChanged += _connections.Add;
        _device = new VirtioSerialDevice([_port]);
        _driver = new VirtioDriverStub((ram, line, errors) => new VirtioMmioTransport(0x1000_B000, ram, _device, line, errors.Add, "virtio-serial"));
    }

    public void Dispose() => _driver.Dispose();

    [Fact]
    public void Identifies_as_a_multiport_console_with_two_ports_worth_of_queues()
    {
        Assert.Equal(3u, _driver.Reg(0x008));
        Assert.Equal((uint)VirtioSerialDevice.MultiportFeature, _driver.Reg(0x010) & (uint)VirtioFeatures.DeviceSpecificMask);
        _driver.Reg(0x030, 5);
        Assert.Equal((uint)VirtioSerialDevice.QueueSize, _driver.Reg(0x034));
        _driver.Reg(0x030, 6);
        Assert.Equal(0u, _driver.Reg(0x034));
        Assert.Equal(2UL, _driver.Transport.Read(0x104, 4)); // max_nr_ports: port 0 (unused console) and port 1
        Assert.Throws<ArgumentException>(() => new VirtioSerialDevice([new VirtioSerialPort(0, "x", _ => { })]));
        Assert.Throws<ArgumentException>(() => new VirtioSerialPort(1, "has space", _ => { }));
    }

    [Fact]
    public void The_handshake_adds_names_and_opens_the_port_and_data_flows_both_ways()
    {
        Handshake();
        Assert.True(_port.GuestConnected);
        Assert.Equal([true], _connections);

        Encoding.ASCII.GetBytes("{\"execute\":\"guest-ping\"}\n").CopyTo(_driver.Span(PortOut, 25));
        _driver.Post(PortTx, 0, PortOut, 25, writable: false);
        Assert.Equal("{\"execute\":\"guest-ping\"}\n", Encoding.ASCII.GetString([.. _fromGuest]));
        Assert.Equal(25, _port.BytesFromGuest);

        _port.EnqueueInput("{\"return\": {}}\n"u8);
        _driver.Post(PortRx, 0, PortIn, 64, writable: true);
        Assert.Equal((0u, 15u), _driver.UsedElement(PortRx, 0));
        Assert.Equal("{\"return\": {}}\n", Encoding.ASCII.GetString(_driver.Span(PortIn, 15)));
        Assert.Empty(_driver.Errors);
        Assert.Equal(0, _device.ProtocolErrors);
    }

    [Fact]
    public void Host_input_waits_while_the_guest_has_the_port_closed_and_is_bounded()
    {
        Handshake();
        SendControl(1, VirtioConsoleControlEvent.PortOpen, 0); // qemu-ga exited
        Assert.False(_port.GuestConnected);
        _port.EnqueueInput("ping\n"u8);
        _driver.Post(PortRx, 0, PortIn, 64, writable: true);
        new VirtioSerialPoller(_driver.Transport, _device).Poll(0);
        Assert.Equal(0, _driver.UsedIndex(PortRx)); // not delivered to a closed port (Linux would discard it)

        SendControl(1, VirtioConsoleControlEvent.PortOpen, 1);
        new VirtioSerialPoller(_driver.Transport, _device).Poll(0);
        Assert.Equal((0u, 5u), _driver.UsedElement(PortRx, 0));
        Assert.Equal([true, false, true], _connections);

        _port.EnqueueInput(new byte[VirtioSerialPort.InputLimit + 10]);
        Assert.Equal(10, _port.InputBytesDropped);
    }

    [Fact]
    public void Malformed_unknown_repeated_and_flooding_control_messages_are_dropped_and_counted()
    {
        _driver.Start(6, (uint)VirtioSerialDevice.MultiportFeature);
        PostControlBuffers(4);
        SendControl(1, VirtioConsoleControlEvent.PortReady, 1); // before DEVICE_READY
        "abcd"u8.CopyTo(_driver.Span(ControlOut, 4));
        _driver.Post(ControlTx, (ushort)(_controlTxDescriptor++ % Size), ControlOut, 4, writable: false); // shorter than the header
        SendControl(0, VirtioConsoleControlEvent.DeviceReady, 1);
        SendControl(0, VirtioConsoleControlEvent.DeviceReady, 1); // repeated: no second PORT_ADD
        SendControl(7, VirtioConsoleControlEvent.PortReady, 1); // no such port
        SendControl(1, (VirtioConsoleControlEvent)99, 1); // no such event
        SendControl(1, VirtioConsoleControlEvent.PortOpen, 1); // before PORT_READY
        Assert.Equal(6, _device.ProtocolErrors);
        Assert.Equal(1, _driver.UsedIndex(ControlRx)); // only the one PORT_ADD
        Assert.Equal(6, _driver.Errors.Count);
        Assert.Contains(_driver.Errors, e => e.Contains("port 7, which does not exist", StringComparison.Ordinal));
        Assert.Contains(_driver.Errors, e => e.Contains("less than the 8-byte header", StringComparison.Ordinal));

        for (int i = 0; i < 1000; i++)
        {
            SendControl(9, VirtioConsoleControlEvent.PortOpen, 1);
        }

        Assert.Equal(1006, _device.ProtocolErrors);
        Assert.Equal(VirtioSerialDevice.ReportLimit, _driver.Errors.Count); // reported up to the limit, then only counted
        Assert.False(_device.HasPendingWork);
        Assert.Equal(0u, _driver.Transport.Status & VirtioDeviceStatus.DeviceNeedsReset);

        SendControl(1, VirtioConsoleControlEvent.PortReady, 1); // the device still works
        Assert.Equal(3, _driver.UsedIndex(ControlRx));
    }

    [Fact]
    public void Control_messages_without_multiport_negotiated_are_refused()
    {
        _driver.Start(6);
        PostControlBuffers(1);
        SendControl(0, VirtioConsoleControlEvent.DeviceReady, 1);
        Assert.Equal(0, _driver.UsedIndex(ControlRx));
        Assert.Equal(1, _device.ProtocolErrors);
    }

    [Fact]
    public void Queued_control_messages_ports_and_pending_input_survive_a_checkpoint_strictly()
    {
        _driver.Start(6, (uint)VirtioSerialDevice.MultiportFeature);
        SendControl(0, VirtioConsoleControlEvent.DeviceReady, 1); // PORT_ADD waits: no control buffers yet
        _port.EnqueueInput("pending"u8);
        var writer = new StateWriter();
        _device.SaveState(writer);

        var port = new VirtioSerialPort(1, "org.qemu.guest_agent.0", _ => { });
        var restored = new VirtioSerialDevice([port]);
        restored.RestoreState(new StateReader(writer.ToArray(), "virtio-serial-ports"), 1);
        Assert.True(restored.HasPendingWork);
        Assert.True(port.HasPendingInput);
        var again = new StateWriter();
        restored.SaveState(again);
        Assert.Equal(writer.ToArray(), again.ToArray());

        Assert.Throws<VmStateFormatException>(() => restored.RestoreState(new StateReader(writer.ToArray(), "virtio-serial-ports"), 2));
        var otherShape = new VirtioSerialDevice([new VirtioSerialPort(2, "other", _ => { })]);
        Assert.Throws<VmStateFormatException>(() => otherShape.RestoreState(new StateReader(writer.ToArray(), "virtio-serial-ports"), 1));
        byte[] truncated = writer.ToArray()[..^3];
        Assert.Throws<VmStateFormatException>(() => restored.RestoreState(new StateReader(truncated, "virtio-serial-ports"), 1));
    }

    [Fact]
    public void A_device_reset_closes_the_port_and_forgets_the_handshake()
    {
        Handshake();
        _port.EnqueueInput("stale"u8);
        _driver.Reg(0x070, 0);
        Assert.False(_port.GuestConnected);
        Assert.False(_port.HasPendingInput);
        Assert.Equal([true, false], _connections);
    }

    /// <summary>What Linux does: control buffers, DEVICE_READY, PORT_READY for the added port, PORT_OPEN once opened.</summary>
    private void Handshake()
    {
        _driver.Start(6, (uint)VirtioSerialDevice.MultiportFeature);
        PostControlBuffers(4);
        SendControl(0, VirtioConsoleControlEvent.DeviceReady, 1);
        Assert.Equal((1u, VirtioConsoleControlEvent.PortAdd, (ushort)0, ""), NextControl());
        SendControl(1, VirtioConsoleControlEvent.PortReady, 1);
        Assert.Equal((1u, VirtioConsoleControlEvent.PortName, (ushort)1, "org.qemu.guest_agent.0\0"), NextControl());
        Assert.Equal((1u, VirtioConsoleControlEvent.PortOpen, (ushort)1, ""), NextControl());
        SendControl(1, VirtioConsoleControlEvent.PortOpen, 1);
    }

    private void PostControlBuffers(int count)
    {
        for (ushort i = 0; i < count; i++)
        {
            _driver.Post(ControlRx, i, ControlIn + (i * 0x100UL), 0x100, writable: true);
        }
    }

    private void SendControl(uint id, VirtioConsoleControlEvent kind, ushort value)
    {
        var message = _driver.Span(ControlOut, 8);
        BinaryPrimitives.WriteUInt32LittleEndian(message, id);
        BinaryPrimitives.WriteUInt16LittleEndian(message[4..], (ushort)kind);
        BinaryPrimitives.WriteUInt16LittleEndian(message[6..], value);
        _driver.Post(ControlTx, (ushort)(_controlTxDescriptor++ % Size), ControlOut, 8, writable: false);
        new VirtioSerialPoller(_driver.Transport, _device).Poll(0); // the VM polls between quanta: replies go out then
    }

    private (uint Id, VirtioConsoleControlEvent Event, ushort Value, string Payload) NextControl()
    {
        Assert.True(_driver.UsedIndex(ControlRx) > _controlRxSeen, "no control message from the device");
        var (descriptor, length) = _driver.UsedElement(ControlRx, _controlRxSeen++);
        var message = _driver.Span(ControlIn + (descriptor * 0x100UL), (int)length);
        return (BinaryPrimitives.ReadUInt32LittleEndian(message), (VirtioConsoleControlEvent)BinaryPrimitives.ReadUInt16LittleEndian(message[4..]),
            BinaryPrimitives.ReadUInt16LittleEndian(message[6..]), Encoding.ASCII.GetString(message[8..]));
    }
}
