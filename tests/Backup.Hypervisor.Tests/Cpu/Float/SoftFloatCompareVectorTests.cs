using Backup.Hypervisor.Cpu.Float;

namespace Backup.Hypervisor.Tests.Cpu.Float;

/// <summary>Hand-written vectors for FMIN/FMAX, FEQ/FLT/FLE and FCLASS.</summary>
public sealed class SoftFloatCompareVectorTests
{
    private const uint NV = FloatFlags.Invalid;
    private const ulong PlusZero = 0, MinusZero = 0x8000000000000000, One = 0x3FF0000000000000;
    private const ulong QNaN = 0x7FF8000000000001, SNaN = 0x7FF0000000000001;

    [Theory]
    [InlineData(MinusZero, PlusZero, MinusZero, PlusZero, 0u)]
    [InlineData(PlusZero, MinusZero, MinusZero, PlusZero, 0u)]
    [InlineData(QNaN, One, One, One, 0u)]
    [InlineData(One, QNaN, One, One, 0u)]
    [InlineData(SNaN, One, One, One, NV)]
    [InlineData(QNaN, QNaN, SoftFloat.CanonicalNaN64, SoftFloat.CanonicalNaN64, 0u)]
    [InlineData(SNaN, QNaN, SoftFloat.CanonicalNaN64, SoftFloat.CanonicalNaN64, NV)]
    [InlineData(0xBFF0000000000000, One, 0xBFF0000000000000, One, 0u)]
    [InlineData(0xFFF0000000000000, 0x7FEFFFFFFFFFFFFF, 0xFFF0000000000000, 0x7FEFFFFFFFFFFFFF, 0u)]
    public void Min64_and_max64(ulong a, ulong b, ulong min, ulong max, uint expectedFlags)
    {
        uint flags = 0;
        Assert.Equal(min, SoftFloat.Min64(a, b, ref flags));
        Assert.Equal(expectedFlags, flags);
        flags = 0;
        Assert.Equal(max, SoftFloat.Max64(a, b, ref flags));
        Assert.Equal(expectedFlags, flags);
    }

    [Fact]
    public void Min32_and_max32_order_negative_zero_first_and_skip_one_nan()
    {
        uint flags = 0;
        Assert.Equal(0x80000000u, SoftFloat.Min32(0, 0x80000000, ref flags));
        Assert.Equal(0u, SoftFloat.Max32(0x80000000, 0, ref flags));
        Assert.Equal(0x3F800000u, SoftFloat.Max32(0x7FC00000, 0x3F800000, ref flags));
        Assert.Equal(0u, flags);
        Assert.Equal(SoftFloat.CanonicalNaN32, SoftFloat.Min32(0x7F800001, 0xFFC00000, ref flags));
        Assert.Equal(NV, flags);
    }

    [Theory]
    [InlineData(One, One, true, false, true, 0u, 0u)]
    [InlineData(MinusZero, PlusZero, true, false, true, 0u, 0u)]
    [InlineData(0xBFF0000000000000, One, false, true, true, 0u, 0u)]
    [InlineData(QNaN, One, false, false, false, 0u, NV)]
    [InlineData(One, SNaN, false, false, false, NV, NV)]
    public void Feq_is_quiet_flt_and_fle_signal(ulong a, ulong b, bool eq, bool lt, bool le, uint eqFlags, uint orderFlags)
    {
        uint flags = 0;
        Assert.Equal(eq, SoftFloat.Eq64(a, b, ref flags));
        Assert.Equal(eqFlags, flags);
        flags = 0;
        Assert.Equal(lt, SoftFloat.Lt64(a, b, ref flags));
        Assert.Equal(orderFlags, flags);
        flags = 0;
        Assert.Equal(le, SoftFloat.Le64(a, b, ref flags));
        Assert.Equal(orderFlags, flags);
        flags = 0;
        Assert.Equal(eq, SoftFloat.Eq32(Narrow(a), Narrow(b), ref flags));
        Assert.Equal(eqFlags, flags);
        flags = 0;
        Assert.Equal(lt, SoftFloat.Lt32(Narrow(a), Narrow(b), ref flags));
        Assert.Equal(le, SoftFloat.Le32(Narrow(a), Narrow(b), ref flags));
        Assert.Equal(orderFlags, flags);
    }

    [Theory]
    [InlineData(0xFFF0000000000000, 0x00000000FF800000u, 0)]
    [InlineData(0xBFF0000000000000, 0x00000000BF800000u, 1)]
    [InlineData(0x800FFFFFFFFFFFFF, 0x00000000807FFFFFu, 2)]
    [InlineData(MinusZero, 0x0000000080000000u, 3)]
    [InlineData(PlusZero, 0x0000000000000000u, 4)]
    [InlineData(0x0000000000000001, 0x0000000000000001u, 5)]
    [InlineData(One, 0x000000003F800000u, 6)]
    [InlineData(0x7FF0000000000000, 0x000000007F800000u, 7)]
    [InlineData(SNaN, 0x000000007F800001u, 8)]
    [InlineData(0xFFF8000000000000, 0x00000000FFC00000u, 9)]
    public void Classify_sets_one_bit(ulong d, uint s, int bit)
    {
        Assert.Equal(1UL << bit, SoftFloat.Classify64(d));
        Assert.Equal(1UL << bit, SoftFloat.Classify32(s));
    }

    /// <summary>The single with the same class as these test values (sign, exponent top bit pattern, quiet bit).</summary>
    private static uint Narrow(ulong d) => d switch
    {
        One => 0x3F800000,
        0xBFF0000000000000 => 0xBF800000,
        MinusZero => 0x80000000,
        PlusZero => 0,
        QNaN => 0x7FC00001,
        SNaN => 0x7F800001,
        _ => throw new ArgumentOutOfRangeException(nameof(d)),
    };
}
