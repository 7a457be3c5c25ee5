using System.Diagnostics;
using Backup.Hypervisor.Snapshots;

namespace Backup.Hypervisor.Timing;

/// <summary>
/// The machine's timebase (the CLINT's mtime and the `time` CSR), counting at <see cref="Frequency"/> Hz.
/// In <see cref="ClockMode.Deterministic"/> mode time is a pure function of retired instructions plus idle
/// time skipped by <see cref="SkipTo"/>, so replaying the same instructions gives the same time.
/// </summary>
public sealed class MachineClock : IDeviceState
{
    /// <summary>Timebase frequency advertised in the device tree (10 MHz, as QEMU's virt machine).</summary>
    public const ulong Frequency = 10_000_000;

    private long _startTimestamp;
    private ulong _offset;
    private ulong _retired;

    public MachineClock(ClockMode mode, ulong instructionsPerTick = 10)
    {
        ArgumentOutOfRangeException.ThrowIfZero(instructionsPerTick);
        Mode = mode;
        InstructionsPerTick = instructionsPerTick;
        _startTimestamp = Stopwatch.GetTimestamp();
    }

    public ClockMode Mode { get; }

    /// <summary>Deterministic mode: retired instructions per timer tick (10 = a nominal 100 MIPS guest).</summary>
    public ulong InstructionsPerTick { get; }

    /// <summary>Deterministic mode: instructions retired by all harts so far (the machine adds them per quantum).</summary>
    public ulong RetiredInstructions => _retired;

    /// <summary>Current time in ticks.</summary>
    public ulong Now
    {
        get
        {
            if (Mode == ClockMode.Deterministic)
            {
                return _offset + (_retired / InstructionsPerTick);
            }

            long elapsed = Stopwatch.GetTimestamp() - _startTimestamp;
            return _offset + (ulong)((double)elapsed * Frequency / Stopwatch.Frequency);
        }
    }

    /// <summary>Records retired instructions (deterministic time advances with them).</summary>
    public void Retire(ulong instructions) => _retired += instructions;

    /// <summary>Moves time forward to <paramref name="ticks"/> when every hart idles (deterministic mode only).</summary>
    public void SkipTo(ulong ticks)
    {
        ulong now = Now;
        if (Mode == ClockMode.Deterministic && ticks > now)
        {
            _offset += ticks - now;
        }
    }

    /// <summary>Converts a tick delta to host time.</summary>
    public static TimeSpan ToTimeSpan(ulong ticks) => TimeSpan.FromTicks((long)Math.Min(ticks, (ulong)long.MaxValue / 2));

    /// <inheritdoc />
    public string StateName => "clock";

    /// <inheritdoc />
    public int StateVersion => 1;

    /// <inheritdoc />
    public void SaveState(StateWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteU8((byte)Mode);
        writer.WriteU64(Now);
        writer.WriteU64(_offset);
        writer.WriteU64(_retired);
    }

    /// <summary>
    /// Deterministic: time and retired count continue exactly. Real time: guest time continues from the saved
    /// value and advances with the host's wall clock from now on (no jump back, no replay of the gap).
    /// </summary>
    public void RestoreState(StateReader reader, int version)
    {
        ArgumentNullException.ThrowIfNull(reader);
        reader.RequireVersion(version, 1);

        byte mode = reader.ReadU8();
        ulong now = reader.ReadU64();
        ulong offset = reader.ReadU64();
        ulong retired = reader.ReadU64();
        reader.ExpectEnd();
        if (mode > (byte)ClockMode.Deterministic)
        {
            throw reader.Fail($"unknown clock mode {mode}");
        }

        _retired = retired;
        if (Mode == ClockMode.Deterministic && (ClockMode)mode == ClockMode.Deterministic)
        {
            _offset = offset;
        }
        else if (Mode == ClockMode.Deterministic)
        {
            _offset = now - (_retired / InstructionsPerTick);
        }
        else
        {
            _startTimestamp = Stopwatch.GetTimestamp();
            _offset = now;
        }
    }
}
