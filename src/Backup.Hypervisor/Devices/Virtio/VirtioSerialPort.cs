namespace Backup.Hypervisor.Devices.Virtio;

/// <summary>
/// One named port of a <see cref="VirtioSerialDevice"/> (Linux's /dev/vportNpM, /sys/class/virtio-ports/*/name). The
/// host end is always connected: the driver is told so (PORT_OPEN 1) as soon as it has set the port up. Bytes the
/// guest writes go to the output sink on the VM thread; host input (<see cref="EnqueueInput"/>, any thread) waits in
/// a buffer of at most <see cref="InputLimit"/> bytes for the driver's receive buffers; the excess is dropped and
/// counted in <see cref="InputBytesDropped"/>, never grown.
/// </summary>
public sealed class VirtioSerialPort
{
    /// <summary>Most host input bytes held for the guest.</summary>
    public const int InputLimit = 64 << 10;

    /// <summary>Longest port name.</summary>
    public const int MaxNameLength = 128;

    private readonly Queue<byte> _input = new();
    private readonly Lock _lock = new();
    private readonly Action<byte[]> _output;

    /// <param name="id">The port's id on its device: 1.. (0 is the console port by convention, as in QEMU).</param>
    /// <param name="name">The name the guest sees (e.g. org.qemu.guest_agent.0).</param>
    /// <param name="output">Receives, on the VM thread, every chunk the guest writes to the port.</param>
    public VirtioSerialPort(uint id, string name, Action<byte[]> output)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(output);
        if (name.Length > MaxNameLength || name.Any(c => c is <= ' ' or > '~'))
        {
            throw new ArgumentException($"port name '{name}' must be 1..{MaxNameLength} printable ASCII characters without spaces", nameof(name));
        }

        Id = id;
        Name = name;
        _output = output;
    }

    public uint Id { get; }

    public string Name { get; }

    /// <summary>The guest has the port open (its last PORT_OPEN said 1; cleared by a device reset).</summary>
    public bool GuestConnected { get; internal set; }

    /// <summary>Raised on the VM thread when <see cref="GuestConnected"/> changes (qemu-ga started or exited).</summary>
    public event Action<bool>? GuestConnectionChanged;

    /// <summary>Bytes the guest wrote since the device was created.</summary>
    public long BytesFromGuest { get; private set; }

    /// <summary>Host bytes delivered to the guest since the device was created.</summary>
    public long BytesToGuest { get; private set; }

    /// <summary>Host bytes dropped because <see cref="InputLimit"/> bytes were already waiting.</summary>
    public long InputBytesDropped { get; private set; }

    /// <summary>True while host input waits for the driver's receive buffers.</summary>
    public bool HasPendingInput
    {
        get
        {
            lock (_lock)
            {
                return _input.Count > 0;
            }
        }
    }

    /// <summary>Queues bytes for the guest (any thread); what does not fit under <see cref="InputLimit"/> is dropped.</summary>
    public void EnqueueInput(ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            int room = InputLimit - _input.Count;
            int take = Math.Min(room, data.Length);
            foreach (byte b in data[..take])
            {
                _input.Enqueue(b);
            }

            InputBytesDropped += data.Length - take;
        }
    }

    /// <summary>Drops host input not yet delivered (a client resynchronising after a timeout).</summary>
    public void DiscardPendingInput()
    {
        lock (_lock)
        {
            _input.Clear();
        }
    }

    internal int TakeInput(Span<byte> destination)
    {
        lock (_lock)
        {
            int n = 0;
            while (n < destination.Length && _input.TryDequeue(out byte b))
            {
                destination[n++] = b;
            }

            BytesToGuest += n;
            return n;
        }
    }

    internal byte[] PendingInput()
    {
        lock (_lock)
        {
            return [.. _input];
        }
    }

    internal void RestoreInput(byte[] pending)
    {
        lock (_lock)
        {
            _input.Clear();
            foreach (byte b in pending)
            {
                _input.Enqueue(b);
            }
        }
    }

    internal void Deliver(byte[] chunk)
    {
        BytesFromGuest += chunk.Length;
        _output(chunk);
    }

    internal void SetGuestConnected(bool connected)
    {
        if (GuestConnected == connected)
        {
            return;
        }

        GuestConnected = connected;
        GuestConnectionChanged?.Invoke(connected);
    }
}
