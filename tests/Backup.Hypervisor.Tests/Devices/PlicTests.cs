using Backup.Hypervisor.Cpu;
using Backup.Hypervisor.Devices;

namespace Backup.Hypervisor.Tests.Devices;

public sealed class PlicTests
{
    private const ulong Pending = 0x1000;
    private const ulong Enable = 0x2000;
    private const ulong Context = 0x200000;

    private readonly RecordingInterruptTarget _hart0 = new(0);
    private readonly RecordingInterruptTarget _hart1 = new(1);
    private readonly Plic _plic;

    public PlicTests() => _plic = new Plic([_hart0, _hart1], sourceCount: 63);

    private static ulong EnableWord(int context, int word) => Enable + (0x80UL * (ulong)context) + (4UL * (ulong)word);

    private static ulong Threshold(int context) => Context + (0x1000UL * (ulong)context);

    private static ulong Claim(int context) => Threshold(context) + 4;

    private void SetPriority(int source, uint priority) => _plic.Write(4UL * (ulong)source, 4, priority);

    private void EnableSource(int context, int source)
    {
        ulong address = EnableWord(context, source / 32);
        _plic.Write(address, 4, _plic.Read(address, 4) | (1UL << (source % 32)));
    }

    [Fact]
    public void Registers_read_back_with_priority_masked_and_source_0_absent()
    {
        SetPriority(5, 0xFF);
        Assert.Equal(7UL, _plic.Read(4 * 5, 4));
        _plic.Write(0, 4, 3); // source 0 priority does not exist
        Assert.Equal(0UL, _plic.Read(0, 4));

        _plic.Write(EnableWord(1, 0), 4, 0xFFFF_FFFF);
        Assert.Equal(0xFFFF_FFFEUL, _plic.Read(EnableWord(1, 0), 4));
        _plic.Write(EnableWord(1, 1), 4, 0xFFFF_FFFF);
        Assert.Equal(0xFFFF_FFFFUL, _plic.Read(EnableWord(1, 1), 4)); // sources 32..63
        Assert.Equal(0UL, _plic.Read(EnableWord(1, 2), 4));           // beyond ndev

        _plic.Write(Threshold(3), 4, 5);
        Assert.Equal(5UL, _plic.Read(Threshold(3), 4));
    }

    [Fact]
    public void Claim_returns_highest_priority_above_threshold_and_lowest_id_on_ties()
    {
        SetPriority(3, 2);
        SetPriority(4, 5);
        SetPriority(9, 5);
        foreach (int source in new[] { 3, 4, 9 })
        {
            EnableSource(0, source);
            _plic.GetLine(source).Set(true);
        }

        Assert.Equal((1UL << 3) | (1UL << 4) | (1UL << 9), _plic.Read(Pending, 4));
        Assert.True(_hart0.Has(InterruptBits.MEIP));

        Assert.Equal(4UL, _plic.Read(Claim(0), 4));
        Assert.False(_plic.IsPending(4));
        Assert.Equal(9UL, _plic.Read(Claim(0), 4));
        Assert.True(_hart0.Has(InterruptBits.MEIP)); // source 3 is still pending

        _plic.Write(Threshold(0), 4, 2); // source 3 (priority 2) is not above the threshold
        Assert.False(_hart0.Has(InterruptBits.MEIP));
        Assert.Equal(0UL, _plic.Read(Claim(0), 4));

        _plic.Write(Threshold(0), 4, 1);
        Assert.Equal(3UL, _plic.Read(Claim(0), 4));
        Assert.False(_hart0.Has(InterruptBits.MEIP));
    }

    [Fact]
    public void Priority_zero_never_interrupts()
    {
        EnableSource(0, 7);
        _plic.GetLine(7).Set(true);
        Assert.True(_plic.IsPending(7));
        Assert.False(_hart0.Has(InterruptBits.MEIP));
        Assert.Equal(0UL, _plic.Read(Claim(0), 4));
    }

    [Fact]
    public void Level_triggered_gateway_retriggers_on_complete_while_the_line_is_high()
    {
        SetPriority(10, 1);
        EnableSource(1, 10);
        var line = _plic.GetLine(10);

        line.Set(true);
        Assert.True(_hart0.Has(InterruptBits.SEIP));
        Assert.Equal(10UL, _plic.Read(Claim(1), 4));
        Assert.False(_hart0.Has(InterruptBits.SEIP));

        // While claimed, the line being high does not make it pending again.
        line.Set(false);
        line.Set(true);
        Assert.False(_plic.IsPending(10));

        _plic.Write(Claim(1), 4, 10); // complete: still high, so pending again
        Assert.True(_plic.IsPending(10));
        Assert.True(_hart0.Has(InterruptBits.SEIP));

        Assert.Equal(10UL, _plic.Read(Claim(1), 4));
        line.Set(false);
        _plic.Write(Claim(1), 4, 10); // complete with the line low: nothing pending
        Assert.False(_plic.IsPending(10));
        Assert.False(_hart0.Has(InterruptBits.SEIP));
    }

    [Fact]
    public void Line_dropping_before_claim_withdraws_the_request()
    {
        SetPriority(2, 1);
        EnableSource(0, 2);
        _plic.GetLine(2).Set(true);
        Assert.True(_hart0.Has(InterruptBits.MEIP));
        _plic.GetLine(2).Set(false);
        Assert.False(_hart0.Has(InterruptBits.MEIP));
        Assert.Equal(0UL, _plic.Read(Claim(0), 4));
    }

    [Fact]
    public void Contexts_route_to_M_and_S_bits_of_each_hart()
    {
        SetPriority(1, 1);
        SetPriority(40, 1);
        EnableSource(3, 1);  // hart 1, S mode
        EnableSource(2, 40); // hart 1, M mode

        _plic.GetLine(1).Set(true);
        Assert.Equal(InterruptBits.SEIP, _hart1.Mip);
        Assert.Equal(0UL, _hart0.Mip);

        _plic.GetLine(40).Set(true);
        Assert.Equal(InterruptBits.SEIP | InterruptBits.MEIP, _hart1.Mip);
        Assert.Equal(1UL << (40 - 32), _plic.Read(Pending + 4, 4));

        // A context only claims what it has enabled.
        Assert.Equal(0UL, _plic.Read(Claim(0), 4));
        Assert.Equal(40UL, _plic.Read(Claim(2), 4));
        Assert.Equal(InterruptBits.SEIP, _hart1.Mip);
        Assert.Equal(1UL, _plic.Read(Claim(3), 4));
        Assert.Equal(0UL, _hart1.Mip);
    }

    [Fact]
    public void Complete_of_a_source_not_enabled_for_the_context_is_ignored()
    {
        SetPriority(5, 1);
        EnableSource(0, 5);
        _plic.GetLine(5).Set(true);
        Assert.Equal(5UL, _plic.Read(Claim(0), 4));

        _plic.Write(Claim(1), 4, 5); // context 1 has not enabled source 5
        Assert.False(_plic.IsPending(5));
        _plic.Write(Claim(0), 4, 5);
        Assert.True(_plic.IsPending(5));
    }

    [Fact]
    public void Out_of_range_and_odd_accesses_are_ignored()
    {
        Assert.Equal(0UL, _plic.Read(4 * 64, 4));            // source 64 > ndev
        Assert.Equal(0UL, _plic.Read(Threshold(4), 4));       // context 4 does not exist (2 harts)
        Assert.Equal(0UL, _plic.Read(Claim(4), 4));
        Assert.Equal(0UL, _plic.Read(Threshold(0) + 8, 4));  // reserved
        Assert.Equal(0UL, _plic.Read(4, 1));
        _plic.Write(4 * 64, 4, 7);
        _plic.Write(Threshold(4), 4, 7);
        _plic.Write(Claim(0), 4, 9999);
        _plic.Write(Pending, 4, 0xFFFF_FFFF); // pending is read-only
        Assert.Equal(0UL, _plic.Read(Pending, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => _plic.GetLine(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => _plic.GetLine(64));
    }
}
