using Backup.Hypervisor.Cpu.Float;

namespace Backup.Hypervisor.Tests.Cpu.Float;

/// <summary>Hand-written vectors for the rounded operations, each worked out by hand from IEEE 754-2008 and the RISC-V F/D chapters.</summary>
public sealed class SoftFloatArithmeticVectorTests
{
    private const uint NX = FloatFlags.Inexact, UF = FloatFlags.Underflow, OF = FloatFlags.Overflow;
    private const uint DZ = FloatFlags.DivideByZero, NV = FloatFlags.Invalid;
    private const ulong One = 0x3FF0000000000000, OneUlp = 0x3FF0000000000001, HalfUlpOfOne = 0x3CA0000000000000;
    private const ulong Max64 = 0x7FEFFFFFFFFFFFFF, Inf64 = 0x7FF0000000000000, Minus = 0x8000000000000000;

    [Theory]
    // 1 + 2^-53 is exactly halfway between 1 and 1 + 2^-52.
    [InlineData(One, HalfUlpOfOne, FloatRounding.NearestEven, One)]
    [InlineData(One, HalfUlpOfOne, FloatRounding.TowardZero, One)]
    [InlineData(One, HalfUlpOfOne, FloatRounding.Down, One)]
    [InlineData(One, HalfUlpOfOne, FloatRounding.Up, OneUlp)]
    [InlineData(One, HalfUlpOfOne, FloatRounding.NearestMaxMagnitude, OneUlp)]
    // (1 + 2^-52) + 2^-53: halfway between an odd and an even neighbour, so RNE goes up this time.
    [InlineData(OneUlp, HalfUlpOfOne, FloatRounding.NearestEven, 0x3FF0000000000002)]
    [InlineData(OneUlp, HalfUlpOfOne, FloatRounding.TowardZero, OneUlp)]
    [InlineData(OneUlp, HalfUlpOfOne, FloatRounding.NearestMaxMagnitude, 0x3FF0000000000002)]
    // The negative tie: RDN and RUP swap roles.
    [InlineData(One | Minus, HalfUlpOfOne | Minus, FloatRounding.NearestEven, One | Minus)]
    [InlineData(One | Minus, HalfUlpOfOne | Minus, FloatRounding.Down, OneUlp | Minus)]
    [InlineData(One | Minus, HalfUlpOfOne | Minus, FloatRounding.Up, One | Minus)]
    [InlineData(One | Minus, HalfUlpOfOne | Minus, FloatRounding.NearestMaxMagnitude, OneUlp | Minus)]
    public void Add64_rounds_ties_per_mode(ulong a, ulong b, int rm, ulong expected)
    {
        uint flags = 0;
        Assert.Equal(expected, SoftFloat.Add64(a, b, rm, ref flags));
        Assert.Equal(NX, flags);
    }

    [Theory]
    [InlineData(FloatRounding.NearestEven, Inf64, Inf64 | Minus)]
    [InlineData(FloatRounding.TowardZero, Max64, Max64 | Minus)]
    [InlineData(FloatRounding.Down, Max64, Inf64 | Minus)]
    [InlineData(FloatRounding.Up, Inf64, Max64 | Minus)]
    [InlineData(FloatRounding.NearestMaxMagnitude, Inf64, Inf64 | Minus)]
    public void Mul64_overflows_to_infinity_or_the_largest_finite_per_mode(int rm, ulong positive, ulong negative)
    {
        uint flags = 0;
        Assert.Equal(positive, SoftFloat.Mul64(Max64, 0x4000000000000000, rm, ref flags));
        Assert.Equal(OF | NX, flags);
        flags = 0;
        Assert.Equal(negative, SoftFloat.Mul64(Max64 | Minus, 0x4000000000000000, rm, ref flags));
        Assert.Equal(OF | NX, flags);
    }

    [Theory]
    [InlineData(FloatRounding.NearestEven, 0x7F800000u)]
    [InlineData(FloatRounding.TowardZero, 0x7F7FFFFFu)]
    [InlineData(FloatRounding.Down, 0x7F7FFFFFu)]
    [InlineData(FloatRounding.Up, 0x7F800000u)]
    [InlineData(FloatRounding.NearestMaxMagnitude, 0x7F800000u)]
    public void Add32_overflows_per_mode(int rm, uint expected)
    {
        uint flags = 0;
        Assert.Equal(expected, SoftFloat.Add32(0x7F7FFFFF, 0x7F7FFFFF, rm, ref flags));
        Assert.Equal(OF | NX, flags);
    }

    [Theory]
    // (2 - 2^-52) 2^-1022 * 0.5 = 2^-1022 - 2^-1075: a tie at the subnormal quantum, RNE gives the smallest normal;
    // with an unbounded exponent the value is exact in 53 bits and below 2^-1022, so it is tiny after rounding: UF.
    [InlineData(0x001FFFFFFFFFFFFF, 0x3FE0000000000000, FloatRounding.NearestEven, 0x0010000000000000, UF | NX)]
    // (1 - 2^-27)((1 + 2^-27) 2^-1022) = (1 - 2^-54) 2^-1022 rounds to 2^-1022 even with an unbounded exponent:
    // tiny before rounding but not after, so RISC-V raises NX alone.
    [InlineData(0x3FEFFFFFFC000000, 0x0010000002000000, FloatRounding.NearestEven, 0x0010000000000000, NX)]
    [InlineData(0x3FEFFFFFFC000000, 0x0010000002000000, FloatRounding.TowardZero, 0x000FFFFFFFFFFFFF, UF | NX)]
    [InlineData(0x3FEFFFFFFC000000, 0x0010000002000000, FloatRounding.Up, 0x0010000000000000, NX)]
    // An exact subnormal product: no flags at all.
    [InlineData(0x0010000000000000, 0x3FE0000000000000, FloatRounding.NearestEven, 0x0008000000000000, 0u)]
    // The smallest subnormal halved: a tie between 0 and 2^-1074.
    [InlineData(0x0000000000000001, 0x3FE0000000000000, FloatRounding.NearestEven, 0x0000000000000000, UF | NX)]
    [InlineData(0x0000000000000001, 0x3FE0000000000000, FloatRounding.NearestMaxMagnitude, 0x0000000000000001, UF | NX)]
    public void Mul64_detects_tininess_after_rounding(ulong a, ulong b, int rm, ulong expected, uint expectedFlags)
    {
        uint flags = 0;
        Assert.Equal(expected, SoftFloat.Mul64(a, b, rm, ref flags));
        Assert.Equal(expectedFlags, flags);
    }

    [Theory]
    [InlineData(0x3F7FF000u, 0x00800800u, FloatRounding.NearestEven, 0x00800000u, UF | NX)]
    [InlineData(0x3F7FF800u, 0x00800400u, FloatRounding.NearestEven, 0x00800000u, NX)]
    [InlineData(0x3F7FF800u, 0x00800400u, FloatRounding.TowardZero, 0x007FFFFFu, UF | NX)]
    public void Mul32_detects_tininess_after_rounding(uint a, uint b, int rm, uint expected, uint expectedFlags)
    {
        uint flags = 0;
        Assert.Equal(expected, SoftFloat.Mul32(a, b, rm, ref flags));
        Assert.Equal(expectedFlags, flags);
    }

    [Fact]
    public void MulAdd_rounds_once()
    {
        // (1 + 2^-27)^2 - (1 + 2^-26) = 2^-54 exactly; rounding the product first would give 0.
        uint flags = 0;
        Assert.Equal(0x3C90000000000000UL, SoftFloat.MulAdd64(0x3FF0000002000000, 0x3FF0000002000000, 0xBFF0000004000000, FloatRounding.NearestEven, ref flags));
        Assert.Equal(0u, flags);
        Assert.Equal(0x33800000u, SoftFloat.MulAdd32(0x3F800800, 0x3F800800, 0xBF801000, FloatRounding.NearestEven, ref flags));
        Assert.Equal(0u, flags);

        // (1 + 2^-52) * 1 + 0x7FF * 2^-64: just under half an ulp, so the sum rounds down to a; an intermediate
        // rounding of the sum to 64 bits would make it a tie and round it up.
        Assert.Equal(OneUlp, SoftFloat.MulAdd64(OneUlp, One, 0x3C9FFC0000000000, FloatRounding.NearestEven, ref flags));
        Assert.Equal(NX, flags);
    }

    [Fact]
    public void MulAdd_signals_invalid_for_infinity_times_zero_even_with_a_quiet_nan_addend()
    {
        uint flags = 0;
        Assert.Equal(SoftFloat.CanonicalNaN64, SoftFloat.MulAdd64(Inf64, 0, 0x7FF8000000000001, FloatRounding.NearestEven, ref flags));
        Assert.Equal(NV, flags);
        flags = 0;
        Assert.Equal(SoftFloat.CanonicalNaN32, SoftFloat.MulAdd32(0, 0xFF800000, 0x7FC00000, FloatRounding.NearestEven, ref flags));
        Assert.Equal(NV, flags);
        flags = 0;
        Assert.Equal(SoftFloat.CanonicalNaN64, SoftFloat.MulAdd64(Inf64, One, Inf64 | Minus, FloatRounding.NearestEven, ref flags));
        Assert.Equal(NV, flags);
        flags = 0;
        Assert.Equal(SoftFloat.CanonicalNaN64, SoftFloat.MulAdd64(One, 0x7FF8000000000000, One, FloatRounding.NearestEven, ref flags));
        Assert.Equal(0u, flags);
    }

    [Theory]
    [InlineData(FloatRounding.NearestEven, 0UL)]
    [InlineData(FloatRounding.TowardZero, 0UL)]
    [InlineData(FloatRounding.Down, Minus)]
    [InlineData(FloatRounding.Up, 0UL)]
    public void Exact_zero_sums_are_positive_except_when_rounding_down(int rm, ulong expected)
    {
        uint flags = 0;
        Assert.Equal(expected, SoftFloat.Sub64(One, One, rm, ref flags));
        Assert.Equal(expected, SoftFloat.MulAdd64(One, One, One | Minus, rm, ref flags));
        Assert.Equal(expected, SoftFloat.Add64(0, Minus, rm, ref flags));
        Assert.Equal((uint)(expected >> 32), SoftFloat.Add32(0x3F800000, 0xBF800000, rm, ref flags));
        Assert.Equal(Minus, SoftFloat.Add64(Minus, Minus, rm, ref flags));
        Assert.Equal(Minus, SoftFloat.MulAdd64(Minus, One, Minus, rm, ref flags));
        Assert.Equal(0u, flags);
    }

    [Fact]
    public void Every_nan_result_is_canonical_and_signaling_inputs_raise_invalid()
    {
        uint flags = 0;
        Assert.Equal(SoftFloat.CanonicalNaN64, SoftFloat.Add64(0xFFF8000000001234, One, FloatRounding.NearestEven, ref flags));
        Assert.Equal(SoftFloat.CanonicalNaN64, SoftFloat.Mul64(One, 0x7FFFFFFFFFFFFFFF, FloatRounding.Up, ref flags));
        Assert.Equal(SoftFloat.CanonicalNaN32, SoftFloat.Div32(0xFFC01234, 0x3F800000, FloatRounding.NearestEven, ref flags));
        Assert.Equal(0u, flags);
        Assert.Equal(SoftFloat.CanonicalNaN64, SoftFloat.Sqrt64(0x7FF0000000000001, FloatRounding.NearestEven, ref flags));
        Assert.Equal(NV, flags);
        flags = 0;
        Assert.Equal(SoftFloat.CanonicalNaN32, SoftFloat.Add32(0x3F800000, 0x7F800001, FloatRounding.NearestEven, ref flags));
        Assert.Equal(NV, flags);
    }

    [Fact]
    public void Invalid_operations_and_division_by_zero()
    {
        uint flags = 0;
        Assert.Equal(SoftFloat.CanonicalNaN64, SoftFloat.Sub64(Inf64, Inf64, FloatRounding.NearestEven, ref flags));
        Assert.Equal(NV, flags);
        flags = 0;
        Assert.Equal(SoftFloat.CanonicalNaN64, SoftFloat.Div64(0, Minus, FloatRounding.NearestEven, ref flags));
        Assert.Equal(NV, flags);
        flags = 0;
        Assert.Equal(SoftFloat.CanonicalNaN64, SoftFloat.Sqrt64(One | Minus, FloatRounding.NearestEven, ref flags));
        Assert.Equal(NV, flags);
        flags = 0;
        Assert.Equal(Inf64 | Minus, SoftFloat.Div64(One, Minus, FloatRounding.NearestEven, ref flags));
        Assert.Equal(DZ, flags);
        flags = 0;
        Assert.Equal(0xFF800000u, SoftFloat.Div32(0xBF800000, 0, FloatRounding.TowardZero, ref flags));
        Assert.Equal(DZ, flags);
        flags = 0;
        Assert.Equal(Minus, SoftFloat.Sqrt64(Minus, FloatRounding.NearestEven, ref flags));
        Assert.Equal(0u, flags);
    }

    [Theory]
    [InlineData(FloatRounding.NearestEven, 0x3FF6A09E667F3BCD)]
    [InlineData(FloatRounding.TowardZero, 0x3FF6A09E667F3BCC)]
    [InlineData(FloatRounding.Down, 0x3FF6A09E667F3BCC)]
    [InlineData(FloatRounding.Up, 0x3FF6A09E667F3BCD)]
    [InlineData(FloatRounding.NearestMaxMagnitude, 0x3FF6A09E667F3BCD)]
    public void Sqrt64_of_two_per_mode(int rm, ulong expected)
    {
        uint flags = 0;
        Assert.Equal(expected, SoftFloat.Sqrt64(0x4000000000000000, rm, ref flags));
        Assert.Equal(NX, flags);
    }
}
