using System.Buffers.Binary;
using Backup.Hypervisor.Memory;
using static Backup.Hypervisor.Devices.Virtio.VirtioMmioRegisters;
using Backup.Hypervisor.Snapshots;

namespace Backup.Hypervisor.Devices.Virtio;

/// <summary>
/// The virtio-mmio transport, version 2 (modern, non-legacy; virtio 1.x section 4.2.2), hosting one
/// <see cref="IVirtioDeviceBackend"/>. Registers below 0x100 are 32-bit (other sizes read 0 / are ignored); the
/// device configuration space at 0x100 takes 1, 2, 4 and 8-byte accesses. Offered features are the backend's plus
/// VIRTIO_F_VERSION_1 and VIRTIO_RING_F_INDIRECT_DESC; FEATURES_OK sticks only when the driver accepted a subset that
/// includes VERSION_1. Queues are processed synchronously when notified after DRIVER_OK. The interrupt line is high
/// while InterruptStatus is non-zero (bit 0: used buffers, bit 1: configuration change / DEVICE_NEEDS_RESET).
/// A malformed ring sets DEVICE_NEEDS_RESET and raises a configuration-change interrupt; the reason is in
/// <see cref="LastError"/> and passed to the error callback. Nothing the guest writes makes this class throw.
/// </summary>
public sealed class VirtioMmioTransport : IMmioDevice, IDeviceState
{
    /// <summary>QEMU virt's first virtio-mmio slot; slot i is at 0x10001000 + 0x1000*i with PLIC source 1 + i.</summary>
    public const ulong DefaultBase = 0x10001000;

    /// <summary>Size of one virtio-mmio window.</summary>
    public const ulong DefaultSize = 0x1000;

    /// <summary>VendorID reported to the driver ("QEMU" in little-endian ASCII, as QEMU's devices report).</summary>
    public const uint VendorIdValue = 0x554D4551;

    private readonly IVirtioDeviceBackend _backend;
    private readonly IInterruptLine _interrupt;
    private readonly Action<string>? _onError;
    private readonly Virtqueue[] _queues;
    private readonly ulong _offeredFeatures;

    private uint _deviceFeaturesSel;
    private uint _driverFeaturesSel;
    private ulong _driverFeatures;
    private uint _queueSel;
    private uint _status;
    private uint _interruptStatus;
    private bool _interruptLevel;

    /// <param name="baseAddress">Guest-physical base of the register window.</param>
    /// <param name="ram">Guest RAM, the only memory the device reaches by DMA.</param>
    /// <param name="backend">The device type.</param>
    /// <param name="interrupt">The device's interrupt line (a PLIC source).</param>
    /// <param name="onError">Optional log sink for guest errors (malformed rings and requests).</param>
    public VirtioMmioTransport(ulong baseAddress, GuestRam ram, IVirtioDeviceBackend backend, IInterruptLine interrupt,
        Action<string>? onError = null, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(ram);
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(interrupt);
        _backend = backend;
        _interrupt = interrupt;
        _onError = onError;
        Base = baseAddress;
        Name = name ?? $"virtio-mmio@{baseAddress:x}";
        _offeredFeatures = (backend.DeviceFeatures & VirtioFeatures.DeviceSpecificMask)
            | VirtioFeatures.Version1 | VirtioFeatures.RingIndirectDescriptors;
        _queues = new Virtqueue[backend.QueueCount];
        for (int i = 0; i < _queues.Length; i++)
        {
            ushort max = backend.GetQueueMaxSize(i);
            if (max == 0 || max > 32768 || (max & (max - 1)) != 0)
            {
                throw new ArgumentException($"queue {i} maximum size {max} is not a power of two in 1..32768", nameof(backend));
            }

            _queues[i] = new Virtqueue(ram, i, max, Report);
        }
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public ulong Base { get; }

    /// <inheritdoc />
    public ulong Size => DefaultSize;

    /// <summary>The hosted device.</summary>
    public IVirtioDeviceBackend Backend => _backend;

    /// <summary>Features offered to the driver.</summary>
    public ulong OfferedFeatures => _offeredFeatures;

    /// <summary>Features the driver accepted (meaningful once FEATURES_OK is set).</summary>
    public ulong NegotiatedFeatures => _driverFeatures;

    /// <summary>The device status register.</summary>
    public uint Status => _status;

    /// <summary>The interrupt status register.</summary>
    public uint InterruptStatus => _interruptStatus;

    /// <summary>The most recent guest error (malformed ring or request), or null.</summary>
    public string? LastError { get; private set; }

    /// <summary>Number of guest errors reported since creation.</summary>
    public long ErrorCount { get; private set; }

    /// <summary>The queues (for diagnostics and tests).</summary>
    public IReadOnlyList<Virtqueue> Queues => _queues;

    /// <inheritdoc />
    public ulong Read(ulong offset, int size)
    {
        if (offset >= Config)
        {
            return ReadConfig(offset - Config, size);
        }

        if (size != 4 || offset % 4 != 0)
        {
            return 0;
        }

        var queue = SelectedQueue;
        return offset switch
        {
            MagicValue => Magic,
            VirtioMmioRegisters.Version => 2,
            DeviceId => _backend.DeviceId,
            VendorId => VendorIdValue,
            DeviceFeatures => _deviceFeaturesSel switch
            {
                0 => (uint)_offeredFeatures,
                1 => (uint)(_offeredFeatures >> 32),
                _ => 0,
            },
            QueueNumMax => queue?.MaxSize ?? 0u,
            QueueReady => queue is { IsReady: true } ? 1u : 0u,
            VirtioMmioRegisters.InterruptStatus => _interruptStatus,
            VirtioMmioRegisters.Status => _status,
            ConfigGeneration => 0,
            _ => 0,
        };
    }

    /// <inheritdoc />
    public void Write(ulong offset, int size, ulong value)
    {
        if (offset >= Config)
        {
            WriteConfig(offset - Config, size, value);
            return;
        }

        if (size != 4 || offset % 4 != 0)
        {
            return;
        }

        uint word = (uint)value;
        switch (offset)
        {
            case DeviceFeaturesSel:
                _deviceFeaturesSel = word;
                break;
            case DriverFeaturesSel:
                _driverFeaturesSel = word;
                break;
            case DriverFeatures:
                WriteDriverFeatures(word);
                break;
            case QueueSel:
                _queueSel = word;
                break;
            case QueueNum:
                WriteQueueSetting(q => q.Size = word);
                break;
            case QueueDescLow:
                WriteQueueSetting(q => q.DescriptorTableAddress = SetLow(q.DescriptorTableAddress, word));
                break;
            case QueueDescHigh:
                WriteQueueSetting(q => q.DescriptorTableAddress = SetHigh(q.DescriptorTableAddress, word));
                break;
            case QueueDriverLow:
                WriteQueueSetting(q => q.AvailableRingAddress = SetLow(q.AvailableRingAddress, word));
                break;
            case QueueDriverHigh:
                WriteQueueSetting(q => q.AvailableRingAddress = SetHigh(q.AvailableRingAddress, word));
                break;
            case QueueDeviceLow:
                WriteQueueSetting(q => q.UsedRingAddress = SetLow(q.UsedRingAddress, word));
                break;
            case QueueDeviceHigh:
                WriteQueueSetting(q => q.UsedRingAddress = SetHigh(q.UsedRingAddress, word));
                break;
            case QueueReady:
                WriteQueueReady(word);
                break;
            case QueueNotify:
                Notify(word);
                break;
            case InterruptAck:
                _interruptStatus &= ~word;
                UpdateInterrupt();
                break;
            case VirtioMmioRegisters.Status:
                WriteStatus(word);
                break;
            default:
                break; // read-only or unimplemented registers
        }
    }

    private Virtqueue? SelectedQueue => _queueSel < (uint)_queues.Length ? _queues[_queueSel] : null;

    private bool ProcessingAllowed =>
        (_status & (VirtioDeviceStatus.DriverOk | VirtioDeviceStatus.FeaturesOk)) == (VirtioDeviceStatus.DriverOk | VirtioDeviceStatus.FeaturesOk)
        && (_status & (VirtioDeviceStatus.DeviceNeedsReset | VirtioDeviceStatus.Failed)) == 0;

    private static ulong SetLow(ulong register, uint low) => (register & 0xFFFF_FFFF_0000_0000UL) | low;

    private static ulong SetHigh(ulong register, uint high) => (register & 0xFFFF_FFFFUL) | ((ulong)high << 32);

    private ulong ReadConfig(ulong offset, int size)
    {
        if (!ConfigRangeValid(offset, size))
        {
            return 0;
        }

        Span<byte> bytes = stackalloc byte[8];
        bytes.Clear();
        _backend.ReadConfig((int)offset, bytes[..size]);
        return BinaryPrimitives.ReadUInt64LittleEndian(bytes);
    }

    private void WriteConfig(ulong offset, int size, ulong value)
    {
        if (!ConfigRangeValid(offset, size))
        {
            return;
        }

        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        _backend.WriteConfig((int)offset, bytes[..size]);
    }

    private bool ConfigRangeValid(ulong offset, int size) =>
        size is 1 or 2 or 4 or 8 && offset <= (ulong)_backend.ConfigSize && (ulong)size <= (ulong)_backend.ConfigSize - offset;

    private void WriteDriverFeatures(uint word)
    {
        if ((_status & VirtioDeviceStatus.FeaturesOk) != 0)
        {
            return; // features are frozen once FEATURES_OK is set
        }

        _driverFeatures = _driverFeaturesSel switch
        {
            0 => SetLow(_driverFeatures, word),
            1 => SetHigh(_driverFeatures, word),
            _ => _driverFeatures,
        };
    }

    private void WriteQueueSetting(Action<Virtqueue> apply)
    {
        var queue = SelectedQueue;
        if (queue is { IsReady: false })
        {
            apply(queue);
        }
    }

    private void WriteQueueReady(uint word)
    {
        var queue = SelectedQueue;
        if (queue is null)
        {
            return;
        }

        if ((word & 1) == 0)
        {
            queue.Deactivate();
            return;
        }

        if (queue.IsReady)
        {
            return;
        }

        queue.IndirectEnabled = (_driverFeatures & VirtioFeatures.RingIndirectDescriptors) != 0;
        string? problem = queue.Activate();
        if (problem is not null)
        {
            EnterNeedsReset(problem);
        }
    }

    /// <summary>
    /// Services queue <paramref name="queueIndex"/> as a driver notify would, for work that starts on the host side
    /// (input arriving for a receive queue). Does nothing before DRIVER_OK or on a queue that is not ready.
    /// </summary>
    public void ServiceQueue(int queueIndex) => Notify((uint)queueIndex);

    /// <summary>
    /// Raises a configuration-change interrupt (a device whose configuration space changed, e.g. a NIC's link status).
    /// Does nothing before DRIVER_OK.
    /// </summary>
    public void SignalConfigChange()
    {
        if ((_status & VirtioDeviceStatus.DriverOk) == 0)
        {
            return;
        }

        _interruptStatus |= InterruptConfigChange;
        UpdateInterrupt();
    }

    private void Notify(uint queueIndex)
    {
        if (queueIndex >= (uint)_queues.Length)
        {
            Report($"notify for queue {queueIndex}, which does not exist");
            return;
        }

        var queue = _queues[queueIndex];
        if (!ProcessingAllowed || !queue.IsReady || queue.IsBroken)
        {
            return;
        }

        try
        {
            _backend.ProcessQueue(queue);
        }
#pragma warning disable CA1031 // a backend failure must not escape into the CPU loop; the guest sees DEVICE_NEEDS_RESET
        catch (Exception e)
#pragma warning restore CA1031
        {
            queue.MarkBroken($"the device failed: {e.GetType().Name}: {e.Message}");
        }

        if (queue.TakeInterruptRequest())
        {
            _interruptStatus |= InterruptUsedBuffer;
        }

        if (queue.BrokenReason is { } reason)
        {
            EnterNeedsReset(reason);
        }

        UpdateInterrupt();
    }

    private void WriteStatus(uint word)
    {
        if (word == 0)
        {
            ResetDevice();
            return;
        }

        uint status = word & 0xFF & ~VirtioDeviceStatus.DeviceNeedsReset;
        bool featuresOkNow = (status & VirtioDeviceStatus.FeaturesOk) != 0 && (_status & VirtioDeviceStatus.FeaturesOk) == 0;
        if (featuresOkNow)
        {
            if ((_driverFeatures & ~_offeredFeatures) != 0 || (_driverFeatures & VirtioFeatures.Version1) == 0)
            {
                Report($"driver features 0x{_driverFeatures:x} refused (offered 0x{_offeredFeatures:x}, VERSION_1 required)");
                status &= ~VirtioDeviceStatus.FeaturesOk;
            }
            else
            {
                foreach (var queue in _queues)
                {
                    queue.IndirectEnabled = (_driverFeatures & VirtioFeatures.RingIndirectDescriptors) != 0;
                }
            }
        }

        bool driverOkNow = (status & VirtioDeviceStatus.DriverOk) != 0 && (_status & VirtioDeviceStatus.DriverOk) == 0;
        _status = status | (_status & VirtioDeviceStatus.DeviceNeedsReset);
        if (driverOkNow && (_status & VirtioDeviceStatus.FeaturesOk) != 0)
        {
            _backend.Activate(_driverFeatures);
        }
    }

    private void ResetDevice()
    {
        _status = 0;
        _driverFeatures = 0;
        _deviceFeaturesSel = 0;
        _driverFeaturesSel = 0;
        _queueSel = 0;
        foreach (var queue in _queues)
        {
            queue.Reset();
        }

        _backend.Reset();
        _interruptStatus = 0;
        UpdateInterrupt();
    }

    private void EnterNeedsReset(string reason)
    {
        Report(reason + "; device needs reset");
        if ((_status & VirtioDeviceStatus.DeviceNeedsReset) == 0)
        {
            _status |= VirtioDeviceStatus.DeviceNeedsReset;
            _interruptStatus |= InterruptConfigChange;
        }

        UpdateInterrupt();
    }

    private void Report(string message)
    {
        LastError = $"{Name}: {message}";
        ErrorCount++;
        _onError?.Invoke(LastError);
    }

    private void UpdateInterrupt()
    {
        bool level = _interruptStatus != 0;
        if (level != _interruptLevel)
        {
            _interruptLevel = level;
            _interrupt.Set(level);
        }
    }

    /// <inheritdoc />
    public string StateName => Name;

    /// <inheritdoc />
    public int StateVersion => 1;

    /// <inheritdoc />
    public void SaveState(StateWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteU32(_backend.DeviceId);
        writer.WriteU32(_deviceFeaturesSel);
        writer.WriteU32(_driverFeaturesSel);
        writer.WriteU64(_driverFeatures);
        writer.WriteU32(_queueSel);
        writer.WriteU32(_status);
        writer.WriteU32(_interruptStatus);
        writer.WriteBool(_interruptLevel);
        writer.WriteU32((uint)_queues.Length);
        foreach (var queue in _queues)
        {
            queue.SaveState(writer);
        }
    }

    /// <inheritdoc />
    public void RestoreState(StateReader reader, int version)
    {
        ArgumentNullException.ThrowIfNull(reader);
        reader.RequireVersion(version, 1);

        uint deviceId = reader.ReadU32();
        if (deviceId != _backend.DeviceId)
        {
            throw reader.Fail($"saved virtio device id {deviceId} does not match this slot's device {_backend.DeviceId}");
        }

        _deviceFeaturesSel = reader.ReadU32();
        _driverFeaturesSel = reader.ReadU32();
        _driverFeatures = reader.ReadU64();
        _queueSel = reader.ReadU32();
        _status = reader.ReadU32();
        _interruptStatus = reader.ReadU32();
        _interruptLevel = reader.ReadBool();
        if (reader.ReadU32() != (uint)_queues.Length)
        {
            throw reader.Fail($"saved queue count differs from this device's {_queues.Length}");
        }

        foreach (var queue in _queues)
        {
            queue.RestoreState(reader);
        }

        reader.ExpectEnd();
        if ((_driverFeatures & ~_offeredFeatures) != 0)
        {
            throw reader.Fail($"saved driver features 0x{_driverFeatures:x} were never offered (0x{_offeredFeatures:x})");
        }

        if ((_status & VirtioDeviceStatus.DriverOk) != 0 && (_status & VirtioDeviceStatus.FeaturesOk) != 0)
        {
            _backend.Activate(_driverFeatures);
        }

        _interrupt.Set(_interruptLevel);
    }
}
