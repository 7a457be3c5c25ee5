using System.Buffers.Binary;
using System.Collections.Concurrent;
using Backup.Hypervisor.Snapshots;

namespace Backup.Hypervisor.Devices.Virtio;

/// <summary>
/// The virtio console (device ID 3; virtio 1.x section 5.3), one port without multiport: Linux's hvc0. Queue 0
/// (receiveq) takes host input into the driver's device-writable buffers, queue 1 (transmitq) carries the guest's
/// output to the console sink. No feature bits are offered; the configuration space (cols, rows, max_nr_ports,
/// emerg_wr) reads 0, 0, 1, 0. Input arrives from any thread through <see cref="EnqueueInput"/> (bounded to
/// <see cref="InputLimit"/> bytes, the excess dropped) and is delivered on the VM thread when the driver has posted
/// buffers (<see cref="VirtioConsolePoller"/> asks the transport to service the receive queue). A transmit chain with
/// device-writable buffers, or buffers outside RAM, is completed as far as it was readable and reported.
/// State section "virtio-console-port": the input not yet delivered.
/// </summary>
public sealed class VirtioConsoleDevice : IVirtioDeviceBackend, IDeviceState
{
    /// <summary>Virtio device ID of a console.</summary>
    public const uint ConsoleDeviceId = 3;

    /// <summary>Size of each queue.</summary>
    public const ushort QueueSize = 64;

    /// <summary>Most host input bytes held for the guest.</summary>
    public const int InputLimit = 4096;

    private const int ReceiveQueue = 0;
    private const int TransmitQueue = 1;
    private const int ConfigLength = 12;

    private readonly Action<byte> _output;
    private readonly ConcurrentQueue<byte> _input = new();

    /// <param name="output">Receives every byte the guest writes to hvc0.</param>
    public VirtioConsoleDevice(Action<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        _output = output;
    }

    /// <summary>Bytes the guest wrote since the device was created.</summary>
    public long BytesTransmitted { get; private set; }

    /// <summary>Host input bytes delivered to the guest since the device was created.</summary>
    public long BytesReceived { get; private set; }

    /// <summary>True while host input waits for the guest's receive buffers.</summary>
    public bool HasPendingInput => !_input.IsEmpty;

    /// <inheritdoc />
    public uint DeviceId => ConsoleDeviceId;

    /// <inheritdoc />
    public ulong DeviceFeatures => 0;

    /// <inheritdoc />
    public int QueueCount => 2;

    /// <inheritdoc />
    public int ConfigSize => ConfigLength;

    /// <summary>Queues input for the guest (any thread); bytes beyond <see cref="InputLimit"/> waiting are dropped.</summary>
    public void EnqueueInput(ReadOnlySpan<byte> data)
    {
        foreach (byte b in data)
        {
            if (_input.Count >= InputLimit)
            {
                return;
            }

            _input.Enqueue(b);
        }
    }

    /// <inheritdoc />
    public ushort GetQueueMaxSize(int queueIndex) => QueueSize;

    /// <inheritdoc />
    public void ReadConfig(int offset, Span<byte> destination)
    {
        Span<byte> config = stackalloc byte[ConfigLength];
        config.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(config[4..], 1); // max_nr_ports
        config.Slice(offset, destination.Length).CopyTo(destination);
    }

    /// <inheritdoc />
    public void WriteConfig(int offset, ReadOnlySpan<byte> data)
    {
        // emerg_wr is only writable with VIRTIO_CONSOLE_F_EMERG_WRITE, which is not offered.
    }

    /// <inheritdoc />
    public void Activate(ulong negotiatedFeatures)
    {
    }

    /// <inheritdoc />
    public void Reset()
    {
    }

    /// <inheritdoc />
    public void ProcessQueue(Virtqueue queue)
    {
        ArgumentNullException.ThrowIfNull(queue);
        if (queue.Index == TransmitQueue)
        {
            Transmit(queue);
        }
        else if (queue.Index == ReceiveQueue)
        {
            Receive(queue);
        }
    }

    private void Transmit(Virtqueue queue)
    {
        while (queue.TryPop(out var chain))
        {
            if (chain.Defect is not null || chain.WritableLength != 0)
            {
                queue.ReportError($"transmit at head {chain.HeadIndex}: {chain.Defect ?? "device-writable buffers in an output request"}; sent what was readable");
            }

            long offset = 0;
            while (offset < chain.ReadableLength && chain.TryGetStreamSpan(writable: false, offset, chain.ReadableLength - offset, out var span))
            {
                foreach (byte b in span)
                {
                    _output(b);
                }

                offset += span.Length;
            }

            BytesTransmitted += offset;
            queue.Complete(chain, 0);
        }
    }

    private void Receive(Virtqueue queue)
    {
        while (!_input.IsEmpty && queue.TryPop(out var chain))
        {
            long written = 0;
            if (chain.Defect is not null || chain.ReadableLength != 0)
            {
                queue.ReportError($"receive at head {chain.HeadIndex}: {chain.Defect ?? "device-readable buffers in an input request"}; completed empty");
            }
            else
            {
                while (written < chain.WritableLength && !_input.IsEmpty && chain.TryGetStreamSpan(writable: true, written, chain.WritableLength - written, out var span))
                {
                    int n = 0;
                    while (n < span.Length && _input.TryDequeue(out byte b))
                    {
                        span[n++] = b;
                    }

                    written += n;
                }
            }

            BytesReceived += written;
            queue.Complete(chain, (uint)written);
        }
    }

    /// <inheritdoc />
    public string StateName => "virtio-console-port";

    /// <inheritdoc />
    public int StateVersion => 1;

    /// <inheritdoc />
    public void SaveState(StateWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteBytes(_input.ToArray());
    }

    /// <inheritdoc />
    public void RestoreState(StateReader reader, int version)
    {
        ArgumentNullException.ThrowIfNull(reader);
        reader.RequireVersion(version, 1);
        byte[] pending = reader.ReadBytes();
        reader.ExpectEnd();
        if (pending.Length > InputLimit)
        {
            throw reader.Fail($"{pending.Length} bytes of pending input exceed the {InputLimit}-byte limit");
        }

        _input.Clear();
        foreach (byte b in pending)
        {
            _input.Enqueue(b);
        }
    }
}
