using Backup.Hypervisor.Devices;
using Backup.Hypervisor.Snapshots;
using Backup.Hypervisor.Timing;

namespace Backup.Hypervisor.Tests.Devices;

public sealed class GoldfishRtcTests
{
    private const ulong TimeLow = 0x00;
    private const ulong TimeHigh = 0x04;
    private const ulong AlarmLow = 0x08;
    private const ulong AlarmHigh = 0x0c;
    private const ulong IrqEnabled = 0x10;
    private const ulong ClearAlarm = 0x14;
    private const ulong AlarmStatus = 0x18;
    private const ulong ClearInterrupt = 0x1c;
    private const ulong EpochNanos = 1_767_225_600UL * 1_000_000_000; // 2026-01-01T00:00:00Z

    private readonly MachineClock _clock = new(ClockMode.Deterministic);
    private readonly RecordingInterruptLine _line = new();

    [Fact]
    public void Deterministic_time_starts_at_the_epoch_and_advances_with_the_machine_clock()
    {
        var rtc = new GoldfishRtc(_clock, _line);
        Assert.Equal(EpochNanos, ReadTime(rtc));

        _clock.Retire(10_000_000); // 1 M ticks of 100 ns = 0.1 s
        Assert.Equal(EpochNanos + 100_000_000, ReadTime(rtc));
    }

    [Fact]
    public void Reading_time_low_latches_the_high_half()
    {
        var rtc = new GoldfishRtc(_clock, _line);
        uint low = (uint)rtc.Read(TimeLow, 4);
        uint latched = (uint)rtc.Read(TimeHigh, 4);
        _clock.SkipTo(_clock.Now + (60UL * 10_000_000 * 60 * 24 * 365)); // a year later: the high half moves on
        Assert.Equal(latched, (uint)rtc.Read(TimeHigh, 4));
        Assert.Equal(EpochNanos, ((ulong)latched << 32) | low);
    }

    [Fact]
    public void Real_time_mode_reads_the_host_clock_and_a_guest_set_time_keeps_its_offset()
    {
        var host = new DateTimeOffset(2030, 5, 6, 7, 8, 9, TimeSpan.Zero);
        var rtc = new GoldfishRtc(new MachineClock(ClockMode.RealTime), _line, hostUtc: () => host);
        ulong hostNanos = (ulong)(host - DateTimeOffset.UnixEpoch).Ticks * 100;
        Assert.Equal(hostNanos, ReadTime(rtc));

        // Linux's set_time: TIME_HIGH, then TIME_LOW.
        ulong wanted = hostNanos - 3_600_000_000_000; // an hour behind
        rtc.Write(TimeHigh, 4, wanted >> 32);
        rtc.Write(TimeLow, 4, (uint)wanted);
        Assert.Equal(wanted, ReadTime(rtc));
        host = host.AddSeconds(10);
        Assert.Equal(wanted + 10_000_000_000, ReadTime(rtc));
    }

    [Fact]
    public void An_armed_alarm_fires_when_its_time_comes_and_the_interrupt_follows_enable_and_clear()
    {
        var rtc = new GoldfishRtc(_clock, _line);
        ulong alarm = EpochNanos + 1_000_000; // 1 ms = 10,000 ticks
        rtc.Write(IrqEnabled, 4, 1);
        rtc.Write(AlarmHigh, 4, alarm >> 32);
        rtc.Write(AlarmLow, 4, (uint)alarm);
        Assert.Equal(1UL, rtc.Read(AlarmStatus, 4));
        Assert.Equal(alarm, rtc.Read(AlarmLow, 4) | (rtc.Read(AlarmHigh, 4) << 32));
        Assert.Equal(10_000UL, rtc.NextDeadline);

        _clock.Retire(99_990); // 9,999 ticks: not yet
        rtc.Poll(_clock.Now);
        Assert.False(_line.Level);

        _clock.Retire(10);
        rtc.Poll(_clock.Now);
        Assert.True(_line.Level);
        Assert.Equal(0UL, rtc.Read(AlarmStatus, 4));
        Assert.Equal(ulong.MaxValue, rtc.NextDeadline);

        rtc.Write(IrqEnabled, 4, 0);
        Assert.False(_line.Level); // pending but masked
        rtc.Write(IrqEnabled, 4, 1);
        Assert.True(_line.Level);
        rtc.Write(ClearInterrupt, 4, 1);
        Assert.False(_line.Level);
        Assert.Equal(2, _line.RisingEdges); // the alarm, and enabling it again while still pending
    }

    [Fact]
    public void An_alarm_in_the_past_fires_at_once_and_clear_alarm_disarms()
    {
        var rtc = new GoldfishRtc(_clock, _line);
        rtc.Write(IrqEnabled, 4, 1);
        rtc.Write(AlarmHigh, 4, 0);
        rtc.Write(AlarmLow, 4, 5);
        Assert.True(_line.Level);
        rtc.Write(ClearInterrupt, 4, 1);

        ulong later = EpochNanos + 5_000_000_000;
        rtc.Write(AlarmHigh, 4, later >> 32);
        rtc.Write(AlarmLow, 4, (uint)later);
        rtc.Write(ClearAlarm, 4, 1);
        Assert.Equal(0UL, rtc.Read(AlarmStatus, 4));
        _clock.Retire(1_000_000_000);
        rtc.Poll(_clock.Now);
        Assert.False(_line.Level);
    }

    [Fact]
    public void State_round_trips_offset_alarm_and_interrupt()
    {
        var rtc = new GoldfishRtc(_clock, _line);
        rtc.Write(TimeHigh, 4, 0x1234);
        rtc.Write(IrqEnabled, 4, 1);
        ulong alarm = ReadTime(rtc) + 1_000_000_000;
        rtc.Write(AlarmHigh, 4, alarm >> 32);
        rtc.Write(AlarmLow, 4, (uint)alarm);
        var writer = new StateWriter();
        rtc.SaveState(writer);

        var line = new RecordingInterruptLine();
        var restored = new GoldfishRtc(_clock, line);
        restored.RestoreState(new StateReader(writer.ToArray(), "rtc"), 1);
        Assert.Equal(ReadTime(rtc), ReadTime(restored));
        Assert.Equal(1UL, restored.Read(AlarmStatus, 4));
        Assert.Equal(rtc.NextDeadline, restored.NextDeadline);

        Assert.Throws<VmStateFormatException>(() => restored.RestoreState(new StateReader(writer.ToArray(), "rtc"), 2));
        Assert.Throws<VmStateFormatException>(() => restored.RestoreState(new StateReader(writer.ToArray()[..^1], "rtc"), 1));
    }

    [Fact]
    public void Other_sizes_and_offsets_read_zero_and_are_ignored()
    {
        var rtc = new GoldfishRtc(_clock, _line);
        Assert.Equal(0UL, rtc.Read(TimeLow, 8));
        Assert.Equal(0UL, rtc.Read(0x20, 4));
        rtc.Write(TimeHigh, 2, 0xFFFF);
        rtc.Write(0x800, 4, 1);
        Assert.Equal(EpochNanos, ReadTime(rtc));
    }

    private static ulong ReadTime(GoldfishRtc rtc)
    {
        ulong low = rtc.Read(TimeLow, 4);
        return low | (rtc.Read(TimeHigh, 4) << 32);
    }
}
