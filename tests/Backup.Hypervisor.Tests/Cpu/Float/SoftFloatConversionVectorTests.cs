using Backup.Hypervisor.Cpu.Float;

namespace Backup.Hypervisor.Tests.Cpu.Float;

/// <summary>Hand-written vectors for FCVT: saturation, sign extension of 32-bit results, rounding per mode, narrowing.</summary>
public sealed class SoftFloatConversionVectorTests
{
    private const uint NX = FloatFlags.Inexact, UF = FloatFlags.Underflow, OF = FloatFlags.Overflow, NV = FloatFlags.Invalid;
    private const int Rne = FloatRounding.NearestEven, Rtz = FloatRounding.TowardZero, Rdn = FloatRounding.Down;
    private const int Rup = FloatRounding.Up, Rmm = FloatRounding.NearestMaxMagnitude;

    [Theory]
    [InlineData(double.NaN, Rne, 0x7FFFFFFFUL, NV)]
    [InlineData(double.PositiveInfinity, Rne, 0x7FFFFFFFUL, NV)]
    [InlineData(double.NegativeInfinity, Rne, 0xFFFFFFFF80000000UL, NV)]
    [InlineData(2147483648.0, Rtz, 0x7FFFFFFFUL, NV)]
    [InlineData(2147483647.5, Rne, 0x7FFFFFFFUL, NV)]
    [InlineData(2147483647.5, Rtz, 0x7FFFFFFFUL, NX)]
    [InlineData(-2147483648.5, Rtz, 0xFFFFFFFF80000000UL, NX)]
    [InlineData(-2147483648.5, Rdn, 0xFFFFFFFF80000000UL, NV)]
    [InlineData(-1.0, Rne, 0xFFFFFFFFFFFFFFFFUL, 0u)]
    public void F64ToI32_saturates_and_sign_extends(double value, int rm, ulong expected, uint expectedFlags)
    {
        uint flags = 0;
        Assert.Equal(expected, SoftFloat.F64ToI32(BitConverter.DoubleToUInt64Bits(value), rm, ref flags));
        Assert.Equal(expectedFlags, flags);
    }

    [Theory]
    [InlineData(double.NaN, Rne, 0xFFFFFFFFFFFFFFFFUL, NV)]
    [InlineData(4294967295.0, Rne, 0xFFFFFFFFFFFFFFFFUL, 0u)]
    [InlineData(4294967296.0, Rne, 0xFFFFFFFFFFFFFFFFUL, NV)]
    [InlineData(2147483648.0, Rne, 0xFFFFFFFF80000000UL, 0u)]
    [InlineData(-1.0, Rne, 0UL, NV)]
    [InlineData(-0.5, Rne, 0UL, NX)]
    [InlineData(-0.5, Rdn, 0UL, NV)]
    [InlineData(-0.0, Rne, 0UL, 0u)]
    public void F64ToU32_saturates_and_sign_extends_bit_31(double value, int rm, ulong expected, uint expectedFlags)
    {
        uint flags = 0;
        Assert.Equal(expected, SoftFloat.F64ToU32(BitConverter.DoubleToUInt64Bits(value), rm, ref flags));
        Assert.Equal(expectedFlags, flags);
    }

    [Theory]
    [InlineData(9223372036854775808.0, 0x7FFFFFFFFFFFFFFFUL, NV, 0x8000000000000000UL, 0u)]
    [InlineData(-9223372036854775808.0, 0x8000000000000000UL, 0u, 0UL, NV)]
    [InlineData(18446744073709551616.0, 0x7FFFFFFFFFFFFFFFUL, NV, 0xFFFFFFFFFFFFFFFFUL, NV)]
    [InlineData(double.NegativeInfinity, 0x8000000000000000UL, NV, 0UL, NV)]
    [InlineData(double.NaN, 0x7FFFFFFFFFFFFFFFUL, NV, 0xFFFFFFFFFFFFFFFFUL, NV)]
    public void F64_to_64_bit_integers_saturate(double value, ulong signed, uint signedFlags, ulong unsigned, uint unsignedFlags)
    {
        uint flags = 0;
        Assert.Equal(signed, SoftFloat.F64ToI64(BitConverter.DoubleToUInt64Bits(value), Rne, ref flags));
        Assert.Equal(signedFlags, flags);
        flags = 0;
        Assert.Equal(unsigned, SoftFloat.F64ToU64(BitConverter.DoubleToUInt64Bits(value), Rne, ref flags));
        Assert.Equal(unsignedFlags, flags);
    }

    [Theory]
    [InlineData(Rne, 2L, -2L)]
    [InlineData(Rtz, 2L, -2L)]
    [InlineData(Rdn, 2L, -3L)]
    [InlineData(Rup, 3L, -2L)]
    [InlineData(Rmm, 3L, -3L)]
    public void Float_to_integer_rounds_two_and_a_half_per_mode(int rm, long positive, long negative)
    {
        uint flags = 0;
        Assert.Equal((ulong)positive, SoftFloat.F64ToI64(BitConverter.DoubleToUInt64Bits(2.5), rm, ref flags));
        Assert.Equal((ulong)negative, SoftFloat.F32ToI32(BitConverter.SingleToUInt32Bits(-2.5f), rm, ref flags));
        Assert.Equal((ulong)positive, SoftFloat.F32ToU64(BitConverter.SingleToUInt32Bits(2.5f), rm, ref flags));
        Assert.Equal(NX, flags);
    }

    [Theory]
    [InlineData(Rne, 0x4340000000000000UL, 0x43F0000000000000UL)]
    [InlineData(Rtz, 0x4340000000000000UL, 0x43EFFFFFFFFFFFFFUL)]
    [InlineData(Rup, 0x4340000000000001UL, 0x43F0000000000000UL)]
    public void Integer_to_double_rounds(int rm, ulong twoTo53PlusOne, ulong maxUnsigned)
    {
        uint flags = 0;
        Assert.Equal(twoTo53PlusOne, SoftFloat.I64ToF64((1UL << 53) + 1, rm, ref flags));
        Assert.Equal(maxUnsigned, SoftFloat.U64ToF64(ulong.MaxValue, rm, ref flags));
        Assert.Equal(NX, flags);
    }

    [Fact]
    public void Integer_to_float_exact_and_rounded_cases()
    {
        uint flags = 0;
        Assert.Equal(BitConverter.DoubleToUInt64Bits(-1.0), SoftFloat.I32ToF64(0xFFFFFFFF));
        Assert.Equal(BitConverter.DoubleToUInt64Bits(4294967295.0), SoftFloat.U32ToF64(0xFFFFFFFF));
        Assert.Equal(BitConverter.DoubleToUInt64Bits(-9223372036854775808.0), SoftFloat.I64ToF64(0x8000000000000000, Rne, ref flags));
        Assert.Equal(0x4F000000u, SoftFloat.I32ToF32(0x7FFFFFFF, Rne, ref flags));
        Assert.Equal(NX, flags);
        flags = 0;
        Assert.Equal(0x4EFFFFFFu, SoftFloat.I32ToF32(0x7FFFFFFF, Rtz, ref flags));
        Assert.Equal(0xCF000000u, SoftFloat.I32ToF32(0x80000000, Rtz, ref flags));
        Assert.Equal(0x4F7FFFFFu, SoftFloat.U32ToF32(0xFFFFFFFF, Rdn, ref flags));
        Assert.Equal(0u, SoftFloat.U64ToF32(0, Rne, ref flags));
        Assert.Equal(NX, flags);
    }

    [Theory]
    // 1 + 2^-24 is the tie between 1 and 1 + 2^-23 in single precision.
    [InlineData(0x3FF0000010000000UL, Rne, 0x3F800000u, NX)]
    [InlineData(0x3FF0000010000000UL, Rup, 0x3F800001u, NX)]
    [InlineData(0x3FF0000010000000UL, Rmm, 0x3F800001u, NX)]
    [InlineData(0x7FEFFFFFFFFFFFFFUL, Rne, 0x7F800000u, OF | NX)]
    [InlineData(0x7FEFFFFFFFFFFFFFUL, Rtz, 0x7F7FFFFFu, OF | NX)]
    [InlineData(0x7FF0000000000001UL, Rne, SoftFloat.CanonicalNaN32, NV)]
    [InlineData(0xFFF8000000001234UL, Rne, SoftFloat.CanonicalNaN32, 0u)]
    // (1 - 2^-24) 2^-126 is exact in 24 bits with an unbounded exponent: tiny after rounding, UF.
    [InlineData(0x380FFFFFE0000000UL, Rne, 0x00800000u, UF | NX)]
    // (1 - 2^-25) 2^-126 rounds to 2^-126 even with an unbounded exponent: NX alone.
    [InlineData(0x380FFFFFF0000000UL, Rne, 0x00800000u, NX)]
    [InlineData(0x36A0000000000000UL, Rne, 0x00000001u, 0u)]
    [InlineData(0x3690000000000000UL, Rne, 0x00000000u, UF | NX)]
    public void F64ToF32_rounds_per_mode(ulong value, int rm, uint expected, uint expectedFlags)
    {
        uint flags = 0;
        Assert.Equal(expected, SoftFloat.F64ToF32(value, rm, ref flags));
        Assert.Equal(expectedFlags, flags);
    }

    [Fact]
    public void F32ToF64_is_exact_and_canonicalizes_nans()
    {
        uint flags = 0;
        Assert.Equal(0x36A0000000000000UL, SoftFloat.F32ToF64(0x00000001, ref flags));
        Assert.Equal(0x8000000000000000UL, SoftFloat.F32ToF64(0x80000000, ref flags));
        Assert.Equal(SoftFloat.CanonicalNaN64, SoftFloat.F32ToF64(0xFFC01234, ref flags));
        Assert.Equal(0u, flags);
        Assert.Equal(SoftFloat.CanonicalNaN64, SoftFloat.F32ToF64(0x7F800001, ref flags));
        Assert.Equal(NV, flags);
    }
}
