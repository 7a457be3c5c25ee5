using Backup.Hypervisor.Snapshots;

namespace Backup.Hypervisor.Devices;

/// <summary>
/// An NS16550A UART as on QEMU's virt machine ("ns16550a", reg-shift 0, 1-byte registers, window 0x100).
/// Transmission is immediate: every THR byte goes straight to the output sink, so LSR always shows THRE|TEMT.
/// Received bytes come from <see cref="EnqueueInput"/>, which any thread may call; they wait in a bounded
/// 4 KiB queue (excess bytes are dropped and reported once as an overrun, LSR.OE).
/// The interrupt line is high while IIR has a source to report: received data (IER.ERBFI and LSR.DR),
/// transmitter empty (IER.ETBEI and the THRE interrupt pending: set when ETBEI is enabled or a THR write
/// completes, cleared by reading IIR while it is the reported source or by writing THR), or a modem-status
/// change (IER.EDSSI, only ever produced by loopback mode). Loopback (MCR bit 4) routes THR back into the
/// receive queue and MCR's outputs to MSR's inputs, as Linux's 8250 probe expects.
/// </summary>
public sealed class Uart16550 : IMmioDevice, IPolledDevice, IDeviceState
{
    /// <summary>QEMU virt's UART address.</summary>
    public const ulong DefaultBase = 0x10000000;

    /// <summary>Size of the register window.</summary>
    public const ulong DefaultSize = 0x100;

    /// <summary>Capacity of the receive queue; bytes beyond it are dropped.</summary>
    public const int InputCapacity = 4096;

    private const byte IerReceivedData = 0x01;
    private const byte IerTransmitterEmpty = 0x02;
    private const byte IerModemStatus = 0x08;
    private const byte IirNoInterrupt = 0x01;
    private const byte IirTransmitterEmpty = 0x02;
    private const byte IirReceivedData = 0x04;
    private const byte IirModemStatus = 0x00;
    private const byte IirFifoEnabled = 0xC0;
    private const byte FcrEnable = 0x01;
    private const byte FcrClearReceive = 0x02;
    private const byte LcrDivisorLatch = 0x80;
    private const byte McrLoopback = 0x10;
    private const byte LsrDataReady = 0x01;
    private const byte LsrOverrun = 0x02;
    private const byte LsrTransmitterEmpty = 0x60; // THRE | TEMT
    private const byte MsrNormalInputs = 0xB0; // DCD | DSR | CTS asserted, as a connected terminal

    private readonly Action<byte> _output;
    private readonly IInterruptLine _interrupt;
    private readonly Lock _inputLock = new();
    private readonly byte[] _input = new byte[InputCapacity];
    private int _inputHead;
    private int _inputCount;
    private bool _inputOverrun;
    private int _inputSignal;

    private byte _ier;
    private byte _fcr;
    private byte _lcr;
    private byte _mcr;
    private byte _msr = MsrNormalInputs;
    private byte _scr;
    private byte _dll = 1;
    private byte _dlm;
    private bool _thrInterruptPending;
    private bool _interruptLevel;

    /// <param name="output">Receives every transmitted byte, on the VM thread.</param>
    /// <param name="interrupt">The UART's interrupt line (QEMU virt: PLIC source 10).</param>
    public Uart16550(Action<byte> output, IInterruptLine interrupt, ulong baseAddress = DefaultBase, string name = "uart0")
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(interrupt);
        _output = output;
        _interrupt = interrupt;
        Base = baseAddress;
        Name = name;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public ulong Base { get; }

    /// <inheritdoc />
    public ulong Size => DefaultSize;

    /// <summary>Total input bytes dropped because the receive queue was full.</summary>
    public long DroppedInputBytes { get; private set; }

    /// <summary>
    /// Queues received bytes. Thread-safe; the interrupt is raised by the next <see cref="Poll"/> on the VM thread.
    /// Bytes beyond <see cref="InputCapacity"/> are dropped.
    /// </summary>
    public void EnqueueInput(ReadOnlySpan<byte> data)
    {
        lock (_inputLock)
        {
            AppendInputLocked(data);
        }

        Volatile.Write(ref _inputSignal, 1);
    }

    /// <summary>Raises the receive interrupt for input that arrived from another thread since the last poll.</summary>
    public void Poll(ulong timeTicks)
    {
        if (Interlocked.Exchange(ref _inputSignal, 0) != 0)
        {
            UpdateInterrupt();
        }
    }

    /// <inheritdoc />
    public ulong Read(ulong offset, int size)
    {
        bool dlab = (_lcr & LcrDivisorLatch) != 0;
        byte value;
        switch (offset)
        {
            case 0:
                value = dlab ? _dll : ReadReceiveBuffer();
                break;
            case 1:
                value = dlab ? _dlm : _ier;
                break;
            case 2:
                value = ReadInterruptIdentification();
                break;
            case 3:
                value = _lcr;
                break;
            case 4:
                value = _mcr;
                break;
            case 5:
                value = ReadLineStatus();
                break;
            case 6:
                value = _msr;
                _msr &= 0xF0; // reading MSR clears the delta bits
                break;
            case 7:
                value = _scr;
                break;
            default:
                return 0;
        }

        UpdateInterrupt();
        return value;
    }

    /// <inheritdoc />
    public void Write(ulong offset, int size, ulong value)
    {
        byte data = (byte)value;
        bool dlab = (_lcr & LcrDivisorLatch) != 0;
        switch (offset)
        {
            case 0 when dlab:
                _dll = data;
                break;
            case 0:
                Transmit(data);
                break;
            case 1 when dlab:
                _dlm = data;
                break;
            case 1:
                WriteInterruptEnable(data);
                break;
            case 2:
                WriteFifoControl(data);
                break;
            case 3:
                _lcr = data;
                break;
            case 4:
                WriteModemControl(data);
                break;
            case 7:
                _scr = data;
                break;
            default:
                return; // LSR and MSR are read-only
        }

        UpdateInterrupt();
    }

    private void AppendInputLocked(ReadOnlySpan<byte> data)
    {
        foreach (byte b in data)
        {
            if (_inputCount == InputCapacity)
            {
                DroppedInputBytes += 1;
                _inputOverrun = true;
                continue;
            }

            _input[(_inputHead + _inputCount) % InputCapacity] = b;
            _inputCount++;
        }
    }

    private bool HasInput()
    {
        lock (_inputLock)
        {
            return _inputCount > 0;
        }
    }

    private byte ReadReceiveBuffer()
    {
        lock (_inputLock)
        {
            if (_inputCount == 0)
            {
                return 0;
            }

            byte b = _input[_inputHead];
            _inputHead = (_inputHead + 1) % InputCapacity;
            _inputCount--;
            return b;
        }
    }

    private byte ReadLineStatus()
    {
        byte lsr = LsrTransmitterEmpty;
        lock (_inputLock)
        {
            if (_inputCount > 0)
            {
                lsr |= LsrDataReady;
            }

            if (_inputOverrun)
            {
                lsr |= LsrOverrun;
                _inputOverrun = false; // OE clears when LSR is read
            }
        }

        return lsr;
    }

    private byte PendingSource()
    {
        if ((_ier & IerReceivedData) != 0 && HasInput())
        {
            return IirReceivedData;
        }

        if ((_ier & IerTransmitterEmpty) != 0 && _thrInterruptPending)
        {
            return IirTransmitterEmpty;
        }

        if ((_ier & IerModemStatus) != 0 && (_msr & 0x0F) != 0)
        {
            return IirModemStatus;
        }

        return IirNoInterrupt;
    }

    private byte ReadInterruptIdentification()
    {
        byte source = PendingSource();
        if (source == IirTransmitterEmpty)
        {
            _thrInterruptPending = false; // reading IIR clears a THRE interrupt it reports
        }

        return (byte)(source | ((_fcr & FcrEnable) != 0 ? IirFifoEnabled : 0));
    }

    private void Transmit(byte data)
    {
        if ((_mcr & McrLoopback) != 0)
        {
            lock (_inputLock)
            {
                AppendInputLocked([data]);
            }
        }
        else
        {
            _output(data);
        }

        // The byte left THR at once, so the holding register is empty again.
        _thrInterruptPending = (_ier & IerTransmitterEmpty) != 0;
    }

    private void WriteInterruptEnable(byte data)
    {
        byte previous = _ier;
        _ier = (byte)(data & 0x0F);
        if ((_ier & IerTransmitterEmpty) == 0)
        {
            _thrInterruptPending = false;
        }
        else if ((previous & IerTransmitterEmpty) == 0)
        {
            _thrInterruptPending = true; // enabling ETBEI while THR is empty raises the interrupt
        }
    }

    private void WriteFifoControl(byte data)
    {
        _fcr = (byte)(data & 0xC9);
        if ((data & FcrClearReceive) != 0)
        {
            lock (_inputLock)
            {
                _inputHead = 0;
                _inputCount = 0;
            }
        }
    }

    private void WriteModemControl(byte data)
    {
        _mcr = (byte)(data & 0x1F);
        byte inputs = MsrNormalInputs;
        if ((_mcr & McrLoopback) != 0)
        {
            // Loopback wiring: RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD.
            inputs = (byte)((((_mcr & 0x02) != 0) ? 0x10 : 0)
                | (((_mcr & 0x01) != 0) ? 0x20 : 0)
                | (((_mcr & 0x04) != 0) ? 0x40 : 0)
                | (((_mcr & 0x08) != 0) ? 0x80 : 0));
        }

        byte old = (byte)(_msr & 0xF0);
        byte changed = (byte)(old ^ inputs);
        byte deltas = (byte)(_msr & 0x0F);
        if ((changed & 0x10) != 0)
        {
            deltas |= 0x01; // DCTS
        }

        if ((changed & 0x20) != 0)
        {
            deltas |= 0x02; // DDSR
        }

        if ((old & 0x40) != 0 && (inputs & 0x40) == 0)
        {
            deltas |= 0x04; // TERI: trailing edge of RI
        }

        if ((changed & 0x80) != 0)
        {
            deltas |= 0x08; // DDCD
        }

        _msr = (byte)(inputs | deltas);
    }

    private void UpdateInterrupt()
    {
        bool level = PendingSource() != IirNoInterrupt;
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
        lock (_inputLock)
        {
            var pending = new byte[_inputCount];
            for (int i = 0; i < _inputCount; i++)
            {
                pending[i] = _input[(_inputHead + i) % InputCapacity];
            }

            writer.WriteBytes(pending);
            writer.WriteBool(_inputOverrun);
        }

        foreach (byte r in new[] { _ier, _fcr, _lcr, _mcr, _msr, _scr, _dll, _dlm })
        {
            writer.WriteU8(r);
        }

        writer.WriteBool(_thrInterruptPending);
        writer.WriteBool(_interruptLevel);
    }

    /// <inheritdoc />
    public void RestoreState(StateReader reader, int version)
    {
        ArgumentNullException.ThrowIfNull(reader);
        reader.RequireVersion(version, 1);

        byte[] pending = reader.ReadBytes();
        if (pending.Length > InputCapacity)
        {
            throw reader.Fail($"{pending.Length} bytes of pending input exceed the UART's {InputCapacity}-byte queue");
        }

        bool overrun = reader.ReadBool();
        byte ier = reader.ReadU8(), fcr = reader.ReadU8(), lcr = reader.ReadU8(), mcr = reader.ReadU8();
        byte msr = reader.ReadU8(), scr = reader.ReadU8(), dll = reader.ReadU8(), dlm = reader.ReadU8();
        bool thrPending = reader.ReadBool();
        bool level = reader.ReadBool();
        reader.ExpectEnd();
        lock (_inputLock)
        {
            pending.CopyTo(_input, 0);
            _inputHead = 0;
            _inputCount = pending.Length;
            _inputOverrun = overrun;
        }

        (_ier, _fcr, _lcr, _mcr, _msr, _scr, _dll, _dlm) = (ier, fcr, lcr, mcr, msr, scr, dll, dlm);
        _thrInterruptPending = thrPending;
        _interruptLevel = level;
        _interrupt.Set(level);
    }
}
