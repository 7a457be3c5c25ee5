using Backup.Hypervisor.Snapshots;
using Backup.Hypervisor.Timing;

namespace Backup.Hypervisor.Devices;

/// <summary>
/// The Goldfish real-time clock ("google,goldfish-rtc", QEMU virt's RTC at 0x101000, PLIC source 11), as Linux's
/// rtc-goldfish driver uses it: nanoseconds since the Unix epoch in two 32-bit halves (reading TIME_LOW latches the
/// high half for the following TIME_HIGH read), a one-shot alarm (ALARM_HIGH then ALARM_LOW arms it; an alarm at or
/// before now fires at once), an interrupt enable, ALARM_STATUS, CLEAR_ALARM and CLEAR_INTERRUPT. The interrupt line
/// is high while an alarm has fired, is not cleared and interrupts are enabled. 32-bit accesses only; other sizes and
/// offsets read 0 and are ignored.
/// <para>
/// Wall time comes from the machine clock's mode: <see cref="ClockMode.RealTime"/> reads the host's UTC clock;
/// <see cref="ClockMode.Deterministic"/> is <see cref="DeterministicEpoch"/> plus the machine's time (mtime), so a
/// replay reads the same dates. A guest that sets the clock (hwclock --systohc) shifts it by an offset, which is
/// what the state section keeps, with the alarm: a restored real-time RTC reads the host's time plus that offset
/// (as QEMU's host-based RTC after loadvm).
/// </para>
/// </summary>
public sealed class GoldfishRtc : IMmioDevice, IPolledDevice, IDeviceState
{
    /// <summary>QEMU virt's address for the RTC.</summary>
    public const ulong DefaultBase = 0x10_1000;

    /// <summary>Size of the register window.</summary>
    public const ulong DefaultSize = 0x1000;

    /// <summary>Where deterministic wall time starts (at mtime 0).</summary>
    public static readonly DateTimeOffset DeterministicEpoch = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private const ulong TimeLow = 0x00;
    private const ulong TimeHigh = 0x04;
    private const ulong AlarmLow = 0x08;
    private const ulong AlarmHigh = 0x0c;
    private const ulong IrqEnabled = 0x10;
    private const ulong ClearAlarm = 0x14;
    private const ulong AlarmStatus = 0x18;
    private const ulong ClearInterrupt = 0x1c;
    private const long NanosecondsPerTick = 1_000_000_000 / (long)MachineClock.Frequency;

    private readonly MachineClock _clock;
    private readonly IInterruptLine _interrupt;
    private readonly Func<DateTimeOffset> _hostUtc;
    private long _offset;
    private ulong _alarm;
    private bool _alarmRunning;
    private bool _irqPending;
    private bool _irqEnabled;
    private uint _timeHighLatch;
    private bool _level;

    /// <param name="clock">The machine clock (its mode picks the time source).</param>
    /// <param name="interrupt">The RTC's interrupt line (a PLIC source).</param>
    /// <param name="hostUtc">The host's UTC clock for real-time mode (tests pass their own); default the system clock.</param>
    public GoldfishRtc(MachineClock clock, IInterruptLine interrupt, ulong baseAddress = DefaultBase, Func<DateTimeOffset>? hostUtc = null)
    {
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentNullException.ThrowIfNull(interrupt);
        _clock = clock;
        _interrupt = interrupt;
        _hostUtc = hostUtc ?? (() => DateTimeOffset.UtcNow);
        Base = baseAddress;
    }

    /// <inheritdoc />
    public string Name => "rtc";

    /// <inheritdoc />
    public ulong Base { get; }

    /// <inheritdoc />
    public ulong Size => DefaultSize;

    /// <summary>The time the guest reads now, in nanoseconds since the Unix epoch.</summary>
    public ulong NowNanoseconds => (ulong)(SourceNanoseconds() + _offset);

    /// <summary>True while an armed alarm has not yet fired.</summary>
    public bool AlarmArmed => _alarmRunning;

    /// <summary>
    /// Machine time (ticks) at which the armed alarm fires, or <see cref="ulong.MaxValue"/> with none armed; lets an
    /// idle machine wait (or, deterministic, skip) exactly that long.
    /// </summary>
    public ulong NextDeadline
    {
        get
        {
            if (!_alarmRunning)
            {
                return ulong.MaxValue;
            }

            ulong now = NowNanoseconds;
            ulong ticks = _alarm <= now ? 0 : ((_alarm - now) + (ulong)NanosecondsPerTick - 1) / (ulong)NanosecondsPerTick;
            ulong clockNow = _clock.Now;
            return ticks > ulong.MaxValue - clockNow ? ulong.MaxValue : clockNow + ticks;
        }
    }

    /// <inheritdoc />
    public ulong Read(ulong offset, int size)
    {
        if (size != 4)
        {
            return 0;
        }

        switch (offset)
        {
            case TimeLow:
                ulong now = NowNanoseconds;
                _timeHighLatch = (uint)(now >> 32);
                return (uint)now;
            case TimeHigh:
                return _timeHighLatch;
            case AlarmLow:
                return (uint)_alarm;
            case AlarmHigh:
                return (uint)(_alarm >> 32);
            case IrqEnabled:
                return _irqEnabled ? 1u : 0u;
            case AlarmStatus:
                return _alarmRunning ? 1u : 0u;
            default:
                return 0;
        }
    }

    /// <inheritdoc />
    public void Write(ulong offset, int size, ulong value)
    {
        if (size != 4)
        {
            return;
        }

        uint word = (uint)value;
        switch (offset)
        {
            case TimeLow:
                SetTime((NowNanoseconds & 0xFFFF_FFFF_0000_0000UL) | word);
                break;
            case TimeHigh:
                SetTime((NowNanoseconds & 0xFFFF_FFFFUL) | ((ulong)word << 32));
                break;
            case AlarmLow:
                _alarm = (_alarm & 0xFFFF_FFFF_0000_0000UL) | word;
                _alarmRunning = true;
                CheckAlarm();
                break;
            case AlarmHigh:
                _alarm = (_alarm & 0xFFFF_FFFFUL) | ((ulong)word << 32);
                break;
            case IrqEnabled:
                _irqEnabled = (word & 1) != 0;
                break;
            case ClearAlarm:
                _alarmRunning = false;
                break;
            case ClearInterrupt:
                _irqPending = false;
                break;
            default:
                return;
        }

        UpdateInterrupt();
    }

    /// <inheritdoc />
    public void Poll(ulong timeTicks)
    {
        if (_alarmRunning)
        {
            CheckAlarm();
            UpdateInterrupt();
        }
    }

    private long SourceNanoseconds() => _clock.Mode == ClockMode.Deterministic
        ? (DeterministicEpoch.ToUnixTimeMilliseconds() * 1_000_000) + (long)Math.Min(_clock.Now, (ulong)(long.MaxValue / NanosecondsPerTick / 2)) * NanosecondsPerTick
        : (_hostUtc() - DateTimeOffset.UnixEpoch).Ticks * 100;

    private void SetTime(ulong nanoseconds) => _offset = (long)nanoseconds - SourceNanoseconds();

    private void CheckAlarm()
    {
        if (_alarmRunning && NowNanoseconds >= _alarm)
        {
            _alarmRunning = false;
            _irqPending = true;
        }
    }

    private void UpdateInterrupt()
    {
        bool level = _irqPending && _irqEnabled;
        if (level != _level)
        {
            _level = level;
            _interrupt.Set(level);
        }
    }

    /// <inheritdoc />
    public string StateName => "rtc";

    /// <inheritdoc />
    public int StateVersion => 1;

    /// <inheritdoc />
    public void SaveState(StateWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteU64((ulong)_offset);
        writer.WriteU64(_alarm);
        writer.WriteBool(_alarmRunning);
        writer.WriteBool(_irqPending);
        writer.WriteBool(_irqEnabled);
        writer.WriteU32(_timeHighLatch);
    }

    /// <inheritdoc />
    public void RestoreState(StateReader reader, int version)
    {
        ArgumentNullException.ThrowIfNull(reader);
        reader.RequireVersion(version, 1);
        _offset = (long)reader.ReadU64();
        _alarm = reader.ReadU64();
        _alarmRunning = reader.ReadBool();
        _irqPending = reader.ReadBool();
        _irqEnabled = reader.ReadBool();
        _timeHighLatch = reader.ReadU32();
        reader.ExpectEnd();
        _level = _irqPending && _irqEnabled;
        _interrupt.Set(_level);
    }
}
