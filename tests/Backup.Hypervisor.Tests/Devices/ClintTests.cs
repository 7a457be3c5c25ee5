using Backup.Hypervisor.Cpu;
using Backup.Hypervisor.Devices;
using Backup.Hypervisor.Timing;

namespace Backup.Hypervisor.Tests.Devices;

public sealed class ClintTests
{
    private readonly RecordingInterruptTarget _hart0 = new(0);
    private readonly RecordingInterruptTarget _hart1 = new(1);
    private readonly MachineClock _clock = new(ClockMode.Deterministic, instructionsPerTick: 1);
    private readonly Clint _clint;

    public ClintTests() => _clint = new Clint([_hart0, _hart1], _clock);

    [Fact]
    public void Msip_sets_and_clears_MSIP_per_hart()
    {
        _clint.Write(4, 4, 1);
        Assert.True(_hart1.Has(InterruptBits.MSIP));
        Assert.False(_hart0.Has(InterruptBits.MSIP));
        Assert.Equal(1UL, _clint.Read(4, 4));

        _clint.Write(4, 4, 0xFFFF_FFFE); // only bit 0 matters
        Assert.False(_hart1.Has(InterruptBits.MSIP));
        Assert.Equal(0UL, _clint.Read(4, 4));
    }

    [Fact]
    public void Mtime_reads_the_machine_clock_and_ignores_writes()
    {
        _clock.Retire(0x1_2345_6789);
        Assert.Equal(0x1_2345_6789UL, _clint.Read(0xBFF8, 8));
        Assert.Equal(0x2345_6789UL, _clint.Read(0xBFF8, 4));
        Assert.Equal(0x1UL, _clint.Read(0xBFFC, 4));

        _clint.Write(0xBFF8, 8, 0);
        Assert.Equal(0x1_2345_6789UL, _clint.Read(0xBFF8, 8));
    }

    [Fact]
    public void Mtimecmp_resets_to_max_and_MTIP_follows_the_comparison()
    {
        Assert.Equal(ulong.MaxValue, _clint.Read(0x4000, 8));
        Assert.Equal(ulong.MaxValue, _clint.NextDeadline);

        _clint.Write(0x4008, 8, 100); // hart 1
        Assert.False(_hart1.Has(InterruptBits.MTIP));
        Assert.Equal(100UL, _clint.NextDeadline);

        _clock.Retire(99);
        _clint.Poll(_clock.Now);
        Assert.False(_hart1.Has(InterruptBits.MTIP));

        _clock.Retire(1);
        _clint.Poll(_clock.Now);
        Assert.True(_hart1.Has(InterruptBits.MTIP));
        Assert.False(_hart0.Has(InterruptBits.MTIP));
        Assert.Equal(ulong.MaxValue, _clint.NextDeadline); // the only deadline has fired

        _clint.Write(0x4008, 8, 250); // writing a later compare clears MTIP at once
        Assert.False(_hart1.Has(InterruptBits.MTIP));
        Assert.Equal(250UL, _clint.NextDeadline);
    }

    [Fact]
    public void Mtimecmp_halves_are_accessible_as_32_bit_registers()
    {
        _clint.Write(0x4000, 4, 0xFFFF_FFFF); // hart 0, low half: compare = 0xFFFFFFFF_FFFFFFFF still
        _clint.Write(0x4004, 4, 0);           // high half: compare = 0x00000000_FFFFFFFF
        Assert.Equal(0xFFFF_FFFFUL, _clint.Read(0x4000, 8));
        _clint.Write(0x4000, 4, 5);
        Assert.Equal(5UL, _clint.GetTimeCompare(0));
        Assert.Equal(5UL, _clint.Read(0x4000, 4));
        Assert.Equal(0UL, _clint.Read(0x4004, 4));

        _clock.Retire(5);
        _clint.Poll(_clock.Now);
        Assert.True(_hart0.Has(InterruptBits.MTIP));
    }

    [Fact]
    public void Next_deadline_is_the_smallest_future_compare_and_drives_idle_skipping()
    {
        _clint.Write(0x4000, 8, 1000);
        _clint.Write(0x4008, 8, 400);
        Assert.Equal(400UL, _clint.NextDeadline);

        _clock.SkipTo(_clint.NextDeadline);
        _clint.Poll(_clock.Now);
        Assert.True(_hart1.Has(InterruptBits.MTIP));
        Assert.Equal(1000UL, _clint.NextDeadline);
    }

    [Fact]
    public void Out_of_range_accesses_read_zero_and_are_ignored()
    {
        Assert.Equal(0UL, _clint.Read(8, 4));       // msip of hart 2 (absent)
        Assert.Equal(0UL, _clint.Read(0x4010, 8));  // mtimecmp of hart 2
        Assert.Equal(0UL, _clint.Read(0x4002, 2));  // odd size
        _clint.Write(8, 4, 1);
        _clint.Write(0x4010, 8, 0);
        _clint.Write(0x4001, 1, 0);
        Assert.Equal(0UL, _hart0.Mip | _hart1.Mip);
    }
}
