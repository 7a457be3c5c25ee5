using System.Buffers.Binary;
using System.Text;
using Backup.Hypervisor.Snapshots;

namespace Backup.Hypervisor.Devices.Virtio;

/// <summary>
/// A multiport virtio console ("virtio-serial"; device ID 3, VIRTIO_CONSOLE_F_MULTIPORT; virtio 1.x section 5.3) with
/// named ports and no console port: port p's receiveq/transmitq are queues 0/1 for p = 0 and 2p+2/2p+3 otherwise; the
/// control receiveq and transmitq are queues 2 and 3. The handshake follows the spec and QEMU: the driver's
/// DEVICE_READY is answered with one PORT_ADD per port; a port's PORT_READY with PORT_NAME and PORT_OPEN 1 (the host
/// end is always connected); the driver's PORT_OPEN says whether the guest has the port open. Host input for a port
/// is delivered only while the guest has it open (Linux discards data for a closed port).
/// Hostile-guest safety: short, unknown or repeated control messages and unknown port ids are dropped and reported
/// (the first <see cref="ReportLimit"/>, then only counted in <see cref="ProtocolErrors"/>); host-to-guest control
/// messages wait in a queue of at most <see cref="ControlQueueLimit"/>; a transmit chain longer than
/// <see cref="MaxTransmitChunk"/> is cut there. Nothing grows without bound and nothing throws on guest input.
/// State section "virtio-serial-ports" (version 1): handshake flags, queued control messages, each port's flags and
/// undelivered host input.
/// </summary>
public sealed class VirtioSerialDevice : IVirtioDeviceBackend, IDeviceState
{
    /// <summary>VIRTIO_CONSOLE_F_MULTIPORT.</summary>
    public const ulong MultiportFeature = 1UL << 1;

    /// <summary>Size of each queue.</summary>
    public const ushort QueueSize = 64;

    /// <summary>Most device-to-driver control messages waiting for receive buffers.</summary>
    public const int ControlQueueLimit = 64;

    /// <summary>Most bytes taken from one transmit chain.</summary>
    public const int MaxTransmitChunk = 64 << 10;

    /// <summary>Protocol errors reported one by one before they are only counted.</summary>
    public const int ReportLimit = 32;

    /// <summary>Size of a control message header.</summary>
    public const int ControlHeaderSize = 8;

    private const int ControlReceiveQueue = 2;
    private const int ControlTransmitQueue = 3;
    private const int ConfigLength = 12;

    private readonly VirtioSerialPort[] _ports;
    private readonly bool[] _portReady;
    private readonly Queue<byte[]> _control = new();
    private readonly uint _maxPorts;
    private bool _deviceReady;
    private bool _multiport;

    /// <param name="ports">The ports, with distinct ids from 1 up (at most 31).</param>
    public VirtioSerialDevice(IReadOnlyList<VirtioSerialPort> ports)
    {
        ArgumentNullException.ThrowIfNull(ports);
        if (ports.Count == 0 || ports.Any(p => p.Id is 0 or > 31) || ports.Select(p => p.Id).Distinct().Count() != ports.Count)
        {
            throw new ArgumentException("a virtio-serial device needs 1..31 ports with distinct ids 1..31 (0 is the console port)", nameof(ports));
        }

        _ports = [.. ports];
        _portReady = new bool[_ports.Length];
        _maxPorts = _ports.Max(p => p.Id) + 1;
    }

    public IReadOnlyList<VirtioSerialPort> Ports => _ports;

    /// <summary>Malformed, unknown or out-of-order control messages and other guest mistakes, dropped.</summary>
    public long ProtocolErrors { get; private set; }

    /// <summary>Host-to-guest control messages dropped because <see cref="ControlQueueLimit"/> were waiting.</summary>
    public long ControlMessagesDropped { get; private set; }

    /// <summary>True when a control message or open-port input waits for the driver's buffers.</summary>
    public bool HasPendingWork
    {
        get
        {
            if (_control.Count > 0)
            {
                return true;
            }

            foreach (var port in _ports)
            {
                if (port.GuestConnected && port.HasPendingInput)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <inheritdoc />
    public uint DeviceId => VirtioConsoleDevice.ConsoleDeviceId;

    /// <inheritdoc />
    public ulong DeviceFeatures => MultiportFeature;

    /// <inheritdoc />
    public int QueueCount => (int)(2 * (_maxPorts + 1));

    /// <inheritdoc />
    public int ConfigSize => ConfigLength;

    /// <summary>The receive queue of port <paramref name="id"/>.</summary>
    public static int ReceiveQueueOf(uint id) => id == 0 ? 0 : (int)((2 * id) + 2);

    /// <inheritdoc />
    public ushort GetQueueMaxSize(int queueIndex) => QueueSize;

    /// <inheritdoc />
    public void ReadConfig(int offset, Span<byte> destination)
    {
        Span<byte> config = stackalloc byte[ConfigLength];
        config.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(config[4..], _maxPorts);
        config.Slice(offset, destination.Length).CopyTo(destination);
    }

    /// <inheritdoc />
    public void WriteConfig(int offset, ReadOnlySpan<byte> data)
    {
        // emerg_wr needs VIRTIO_CONSOLE_F_EMERG_WRITE, which is not offered.
    }

    /// <inheritdoc />
    public void Activate(ulong negotiatedFeatures) => _multiport = (negotiatedFeatures & MultiportFeature) != 0;

    /// <inheritdoc />
    public void Reset()
    {
        _deviceReady = false;
        _multiport = false;
        _control.Clear();
        Array.Clear(_portReady);
        foreach (var port in _ports)
        {
            port.DiscardPendingInput();
            port.SetGuestConnected(false);
        }
    }

    /// <inheritdoc />
    public void ProcessQueue(Virtqueue queue)
    {
        ArgumentNullException.ThrowIfNull(queue);
        switch (queue.Index)
        {
            case ControlTransmitQueue:
                ReadControl(queue);
                return;
            case ControlReceiveQueue:
                WriteControl(queue);
                return;
        }

        var port = PortOfQueue(queue.Index, out bool transmit);
        if (transmit)
        {
            Transmit(queue, port);
        }
        else if (port is not null && port.GuestConnected)
        {
            Receive(queue, port);
        }
    }

    /// <summary>Services the queues that have host-side work (control messages, open ports' input).</summary>
    internal void ServicePending(VirtioMmioTransport transport)
    {
        if (_control.Count > 0)
        {
            transport.ServiceQueue(ControlReceiveQueue);
        }

        foreach (var port in _ports)
        {
            if (port.GuestConnected && port.HasPendingInput)
            {
                transport.ServiceQueue(ReceiveQueueOf(port.Id));
            }
        }
    }

    private VirtioSerialPort? PortOfQueue(int queueIndex, out bool transmit)
    {
        transmit = queueIndex % 2 == 1;
        uint id = queueIndex < 2 ? 0 : (uint)((queueIndex - 2) / 2);
        return _ports.FirstOrDefault(p => p.Id == id);
    }

    private void Report(Virtqueue queue, string message)
    {
        ProtocolErrors++;
        if (ProtocolErrors <= ReportLimit)
        {
            queue.ReportError(ProtocolErrors == ReportLimit ? $"{message} (further protocol errors are only counted)" : message);
        }
    }

    private void ReadControl(Virtqueue queue)
    {
        Span<byte> header = stackalloc byte[ControlHeaderSize];
        while (queue.TryPop(out var chain))
        {
            if (chain.Defect is not null || chain.ReadableLength < ControlHeaderSize || !chain.TryCopyFromReadable(0, header))
            {
                Report(queue, $"control message at head {chain.HeadIndex}: {chain.Defect ?? $"{chain.ReadableLength} bytes, less than the {ControlHeaderSize}-byte header"}; dropped");
            }
            else
            {
                HandleControl(queue, BinaryPrimitives.ReadUInt32LittleEndian(header), BinaryPrimitives.ReadUInt16LittleEndian(header[4..]), BinaryPrimitives.ReadUInt16LittleEndian(header[6..]));
            }

            queue.Complete(chain, 0);
        }
    }

    private void HandleControl(Virtqueue queue, uint id, ushort eventCode, ushort value)
    {
        var kind = (VirtioConsoleControlEvent)eventCode;
        if (!_multiport)
        {
            Report(queue, $"control message {kind} without VIRTIO_CONSOLE_F_MULTIPORT negotiated; dropped");
            return;
        }

        if (kind == VirtioConsoleControlEvent.DeviceReady)
        {
            if (value != 1 || _deviceReady)
            {
                Report(queue, value != 1 ? "the driver reported DEVICE_READY failed" : "a repeated DEVICE_READY; ignored");
                return;
            }

            _deviceReady = true;
            foreach (var port in _ports)
            {
                Send(queue, port.Id, VirtioConsoleControlEvent.PortAdd, 0, []);
            }

            return;
        }

        int index = Array.FindIndex(_ports, p => p.Id == id);
        if (index < 0 || !_deviceReady)
        {
            Report(queue, index < 0 ? $"control message {kind} for port {id}, which does not exist; dropped" : $"control message {kind} before DEVICE_READY; dropped");
            return;
        }

        switch (kind)
        {
            case VirtioConsoleControlEvent.PortReady when value == 1 && !_portReady[index]:
                _portReady[index] = true;
                Send(queue, id, VirtioConsoleControlEvent.PortName, 1, Encoding.ASCII.GetBytes(_ports[index].Name + "\0"));
                Send(queue, id, VirtioConsoleControlEvent.PortOpen, 1, []);
                break;
            case VirtioConsoleControlEvent.PortOpen when _portReady[index]:
                _ports[index].SetGuestConnected(value != 0);
                break;
            default:
                Report(queue, $"control message {kind} (event {eventCode}, value {value}) for port {id} is unexpected in its state; dropped");
                break;
        }
    }

    private void Send(Virtqueue queue, uint id, VirtioConsoleControlEvent kind, ushort value, byte[] payload)
    {
        if (_control.Count >= ControlQueueLimit)
        {
            ControlMessagesDropped++;
            Report(queue, $"control message {kind} for port {id} dropped: {ControlQueueLimit} wait for the driver's buffers");
            return;
        }

        var message = new byte[ControlHeaderSize + payload.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(message, id);
        BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(4), (ushort)kind);
        BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(6), value);
        payload.CopyTo(message, ControlHeaderSize);
        _control.Enqueue(message);
    }

    private void WriteControl(Virtqueue queue)
    {
        while (_control.Count > 0 && queue.TryPop(out var chain))
        {
            byte[] message = _control.Dequeue();
            if (chain.Defect is not null || chain.ReadableLength != 0 || chain.WritableLength < message.Length || !chain.TryCopyToWritable(0, message))
            {
                Report(queue, $"control receive buffer at head {chain.HeadIndex}: {chain.Defect ?? $"unusable for a {message.Length}-byte message"}; the message is lost");
                queue.Complete(chain, 0);
                continue;
            }

            queue.Complete(chain, (uint)message.Length);
        }
    }

    private void Transmit(Virtqueue queue, VirtioSerialPort? port)
    {
        while (queue.TryPop(out var chain))
        {
            if (port is null || chain.Defect is not null || chain.WritableLength != 0)
            {
                Report(queue, $"transmit at head {chain.HeadIndex}: {(port is null ? "no port uses this queue" : chain.Defect ?? "device-writable buffers in an output request")}; {(port is null ? "dropped" : "sent what was readable")}");
            }

            long length = Math.Min(chain.ReadableLength, MaxTransmitChunk);
            if (chain.ReadableLength > MaxTransmitChunk)
            {
                Report(queue, $"transmit at head {chain.HeadIndex}: {chain.ReadableLength} bytes, cut to {MaxTransmitChunk}");
            }

            var chunk = new byte[length];
            if (port is not null && length > 0 && chain.TryCopyFromReadable(0, chunk))
            {
                port.Deliver(chunk);
            }

            queue.Complete(chain, 0);
        }
    }

    private static void Receive(Virtqueue queue, VirtioSerialPort port)
    {
        while (port.HasPendingInput && queue.TryPop(out var chain))
        {
            long written = 0;
            if (chain.Defect is not null || chain.ReadableLength != 0)
            {
                queue.ReportError($"receive at head {chain.HeadIndex}: {chain.Defect ?? "device-readable buffers in an input request"}; completed empty");
            }
            else
            {
                while (written < chain.WritableLength && chain.TryGetStreamSpan(writable: true, written, chain.WritableLength - written, out var span))
                {
                    int n = port.TakeInput(span);
                    written += n;
                    if (n < span.Length)
                    {
                        break;
                    }
                }
            }

            queue.Complete(chain, (uint)written);
        }
    }

    /// <inheritdoc />
    public string StateName => "virtio-serial-ports";

    /// <inheritdoc />
    public int StateVersion => 1;

    /// <inheritdoc />
    public void SaveState(StateWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteBool(_deviceReady);
        writer.WriteBool(_multiport);
        writer.WriteU32((uint)_control.Count);
        foreach (byte[] message in _control)
        {
            writer.WriteBytes(message);
        }

        writer.WriteU32((uint)_ports.Length);
        for (int i = 0; i < _ports.Length; i++)
        {
            writer.WriteU32(_ports[i].Id);
            writer.WriteBool(_portReady[i]);
            writer.WriteBool(_ports[i].GuestConnected);
            writer.WriteBytes(_ports[i].PendingInput());
        }
    }

    /// <inheritdoc />
    public void RestoreState(StateReader reader, int version)
    {
        ArgumentNullException.ThrowIfNull(reader);
        reader.RequireVersion(version, 1);
        bool deviceReady = reader.ReadBool();
        bool multiport = reader.ReadBool();
        uint messages = reader.ReadU32();
        if (messages > ControlQueueLimit)
        {
            throw reader.Fail($"{messages} queued control messages exceed the limit of {ControlQueueLimit}");
        }

        var control = new List<byte[]>();
        for (uint i = 0; i < messages; i++)
        {
            byte[] message = reader.ReadBytes();
            if (message.Length is < ControlHeaderSize or > ControlHeaderSize + VirtioSerialPort.MaxNameLength + 1)
            {
                throw reader.Fail($"a queued control message of {message.Length} bytes");
            }

            control.Add(message);
        }

        if (reader.ReadU32() != (uint)_ports.Length)
        {
            throw reader.Fail($"the checkpoint's port count differs from this device's {_ports.Length}");
        }

        var ports = new (bool Ready, bool Connected, byte[] Input)[_ports.Length];
        for (int i = 0; i < _ports.Length; i++)
        {
            uint id = reader.ReadU32();
            if (id != _ports[i].Id)
            {
                throw reader.Fail($"port {i} has id {id} in the checkpoint and {_ports[i].Id} here");
            }

            ports[i] = (reader.ReadBool(), reader.ReadBool(), reader.ReadBytes());
            if (ports[i].Input.Length > VirtioSerialPort.InputLimit)
            {
                throw reader.Fail($"{ports[i].Input.Length} bytes of pending input for port {id} exceed the {VirtioSerialPort.InputLimit}-byte limit");
            }
        }

        reader.ExpectEnd();
        _deviceReady = deviceReady;
        _multiport = multiport;
        _control.Clear();
        control.ForEach(_control.Enqueue);
        for (int i = 0; i < _ports.Length; i++)
        {
            _portReady[i] = ports[i].Ready;
            _ports[i].RestoreInput(ports[i].Input);
            _ports[i].SetGuestConnected(ports[i].Connected);
        }
    }
}
