namespace Backup.Hypervisor.Tests.Cpu.Float;

/// <summary>
/// Seeded operands for the differential test: random bit patterns mixed with the values where implementations go
/// wrong: signed zeros, infinities, quiet and signaling NaNs, the subnormal and overflow boundaries, short
/// significands (exact results and exact ties), operands related so that a sum or product lands on a rounding tie
/// or cancels, products near the underflow threshold, and integers and floats near the conversion limits.
/// </summary>
internal sealed class FloatOperandGenerator
{
    private static readonly ulong[] DoubleSpecials =
    [
        0, 0x7FF0000000000000, 0x7FF8000000000000, 0x7FF8000000000001, 0x7FFFFFFFFFFFFFFF, 0x7FF0000000000001,
        0x7FF4000000000000, 0x7FF7FFFFFFFFFFFF, 1, 2, 0x000FFFFFFFFFFFFF, 0x0010000000000000, 0x0010000000000001,
        0x001FFFFFFFFFFFFF, 0x7FEFFFFFFFFFFFFF, 0x7FE0000000000000, 0x3FF0000000000000, 0x3FF0000000000001,
        0x3FFFFFFFFFFFFFFF, 0x4000000000000000, 0x3FE0000000000000, 0x3FF8000000000000, 0x4004000000000000,
        0x3FB999999999999A, 0x4340000000000000, 0x4340000000000001, 0x433FFFFFFFFFFFFF, 0x3CA0000000000000,
        0x36A0000000000000, 0x47EFFFFFE0000000, 0x47EFFFFFF0000000, 0x3810000000000000, 0x380FFFFFFFFFFFFF,
        0x3690000000000000, 0x36A8000000000000,
    ];

    private static readonly uint[] SingleSpecials =
    [
        0, 0x7F800000, 0x7FC00000, 0x7FC00001, 0x7FFFFFFF, 0x7F800001, 0x7FA00000, 0x7FBFFFFF, 1, 2, 0x007FFFFF,
        0x00800000, 0x00800001, 0x00FFFFFF, 0x7F7FFFFF, 0x7F000000, 0x3F800000, 0x3F800001, 0x3FFFFFFF, 0x40000000,
        0x3F000000, 0x3FC00000, 0x40200000, 0x3DCCCCCD, 0x4B800000, 0x4B800001, 0x4B7FFFFF, 0x33800000, 0x00400000,
    ];

    // Values near the integer conversion limits (and small values with halves), as doubles.
    private static readonly double[] ConversionEdges =
    [
        0.5, 1.5, 2.5, 0.25, 0.75, 1, 0.4999999999999999, 2147483647, 2147483647.5, 2147483647.25, 2147483648,
        2147483648.5, 2147483646.5, 4294967295, 4294967295.5, 4294967296, 4294967296.5, 4294967294.5,
        -2147483648, -2147483648.5, -2147483649, -2147483648.25, -0.5, -0.75, -1,
        9223372036854775807.0, 9223372036854774784.0, 18446744073709551615.0, 18446744073709549568.0,
        -9223372036854775808.0, -9223372036854777856.0, 36028797018963968.5, 4503599627370497.0,
        9007199254740993.0, 16777217, 16777216.5,
    ];

    private readonly Random _random;

    public FloatOperandGenerator(int seed) => _random = new Random(seed);

    /// <summary>Operands for one instruction: a tuple of up to three, related where that finds more edge cases.</summary>
    public (ulong A, ulong B, ulong C) Next(FloatOperation operation)
    {
        return operation.Operands switch
        {
            FloatValueKind.Int64 => (NextInteger(64), 0, 0),
            FloatValueKind.Int32 => (NextInteger(32), 0, 0),
            _ when operation.Result == FloatValueKind.Integer && operation.Arity == 1 && operation.Name.StartsWith("fcvt", StringComparison.Ordinal)
                => (NextConversionOperand(operation.Operands == FloatValueKind.Double), 0, 0),
            FloatValueKind.Double => NextTuple(FloatFormatInfo.Double, operation.Arity),
            _ => NextTuple(FloatFormatInfo.Single, operation.Arity),
        };
    }

    private (ulong A, ulong B, ulong C) NextTuple(FloatFormatInfo f, int arity)
    {
        ulong a = NextFloat(f), b = NextFloat(f), c = NextFloat(f);
        switch (_random.Next(12))
        {
            case 4 or 5:
                // a*b (and a/b for the divisor's reciprocal) just around the smallest normal magnitude, where
                // tininess after rounding differs from tininess before it.
                ulong boundary = f.MinNormal + (ulong)_random.Next(-3, 3);
                b = (f.Quotient(boundary, a) & ~f.SignBit) + (ulong)_random.Next(-2, 3) | (b & f.SignBit);
                if (_random.Next(4) == 0)
                {
                    b = f.Quotient(a, b);
                }

                break;
            case 0:
                // b half an ulp of a (or near it): a + b is a tie or just off one.
                b = f.WithExponent(NextFloat(f, shortSignificand: _random.Next(2) == 0), f.ExponentOf(a) - f.FractionBits - 1 + _random.Next(-1, 2));
                break;
            case 1:
                // Near-cancellation: b close to -a.
                b = (a ^ f.SignBit) + (ulong)_random.Next(-3, 4);
                break;
            case 2:
                // Product near the underflow threshold (or the overflow one).
                int target = _random.Next(2) == 0 ? _random.Next(-3, 3) : (int)f.ExponentField - 1 + _random.Next(-2, 2);
                b = f.WithExponent(b, Math.Max(target - f.ExponentOf(a) + f.Bias, 1));
                break;
            case 3 when arity == 3:
                // c = -RN(a*b) (exact cancellation to the product's rounding error) or a nearby value.
                c = (f.NegatedProduct(a, b) & f.AllBits) + (ulong)_random.Next(-1, 2);
                break;
        }

        return (a, b, c);
    }

    private ulong NextFloat(FloatFormatInfo f, bool shortSignificand = false)
    {
        ulong sign = _random.Next(2) == 0 ? 0 : f.SignBit;
        ulong fraction = NextBits(f.FractionBits);
        if (shortSignificand)
        {
            fraction &= ~0UL << (f.FractionBits - _random.Next(1, 6));
            fraction &= f.FractionMask;
        }

        int exponent;
        switch (_random.Next(16))
        {
            case 0 or 1:
                return f.Specials[_random.Next(f.Specials.Length)] | sign;
            case 2 or 3 or 4:
                return NextBits(f.TotalBits);
            case 5 or 6:
                exponent = _random.Next(0, 4);
                break;
            case 7:
                exponent = (int)f.ExponentField - 1 - _random.Next(0, 3);
                break;
            case 8 or 9:
                fraction &= ~0UL << (f.FractionBits - _random.Next(0, 8));
                fraction &= f.FractionMask;
                exponent = f.Bias + _random.Next(-8, 9);
                break;
            default:
                exponent = f.Bias + _random.Next(-30, 31);
                break;
        }

        return sign | ((ulong)exponent << f.FractionBits) | fraction;
    }

    private ulong NextConversionOperand(bool isDouble)
    {
        double value;
        switch (_random.Next(8))
        {
            case 0 or 1:
                value = ConversionEdges[_random.Next(ConversionEdges.Length)];
                if (_random.Next(4) == 0)
                {
                    value = -value;
                }

                break;
            case 2:
                return isDouble ? NextFloat(FloatFormatInfo.Double) : NextFloat(FloatFormatInfo.Single);
            default:
                // Magnitudes from 2^-3 to 2^66 with a random significand, some with a short one (halves, ties).
                double significand = 1 + _random.NextDouble();
                if (_random.Next(3) == 0)
                {
                    significand = Math.Round(significand * 8) / 8;
                }

                value = Math.ScaleB(significand, _random.Next(-3, 67)) * (_random.Next(3) == 0 ? -1 : 1);
                break;
        }

        return isDouble ? BitConverter.DoubleToUInt64Bits(value) : BitConverter.SingleToUInt32Bits((float)value);
    }

    private ulong NextInteger(int width)
    {
        ulong value = _random.Next(6) switch
        {
            0 => (ulong)_random.Next(-4, 5) + (width == 64 ? 0x8000_0000_0000_0000UL : 0x8000_0000UL),
            1 => NextBits(width),
            2 => ((1UL << _random.Next(20, 64)) + (ulong)_random.Next(-4, 5)) << _random.Next(0, 5),
            _ => NextBits(_random.Next(0, width + 1)) * (_random.Next(2) == 0 ? 1UL : ulong.MaxValue),
        };
        return width == 64 ? value : (uint)value;
    }

    private ulong NextBits(int bits)
    {
        ulong value = (ulong)_random.NextInt64() ^ ((ulong)_random.Next() << 40);
        return bits >= 64 ? value : value & ((1UL << bits) - 1);
    }

    /// <summary>The format facts the generator needs (a test-side copy; it does not use the code under test).</summary>
    private sealed class FloatFormatInfo
    {
        public static readonly FloatFormatInfo Double = new(11, 52, DoubleSpecials);
        public static readonly FloatFormatInfo Single = new(8, 23, Array.ConvertAll(SingleSpecials, s => (ulong)s));

        private FloatFormatInfo(int exponentBits, int fractionBits, ulong[] specials)
        {
            FractionBits = fractionBits;
            TotalBits = 1 + exponentBits + fractionBits;
            ExponentField = (1UL << exponentBits) - 1;
            Bias = (1 << (exponentBits - 1)) - 1;
            FractionMask = (1UL << fractionBits) - 1;
            SignBit = 1UL << (TotalBits - 1);
            AllBits = TotalBits == 64 ? ulong.MaxValue : (1UL << TotalBits) - 1;
            Specials = specials;
        }

        public int FractionBits { get; }

        public int TotalBits { get; }

        public ulong ExponentField { get; }

        public int Bias { get; }

        public ulong FractionMask { get; }

        public ulong SignBit { get; }

        public ulong AllBits { get; }

        public ulong[] Specials { get; }

        public ulong MinNormal => 1UL << FractionBits;

        public int ExponentOf(ulong bits) => (int)((bits >> FractionBits) & ExponentField);

        /// <summary>bits with its exponent field replaced (clamped to the finite range 0 .. max-1).</summary>
        public ulong WithExponent(ulong bits, int field)
        {
            ulong clamped = (ulong)Math.Clamp(field, 0, (int)ExponentField - 1);
            return (bits & ~(ExponentField << FractionBits)) | (clamped << FractionBits);
        }

        /// <summary>a/b rounded by the host (approximate).</summary>
        public ulong Quotient(ulong a, ulong b)
        {
            if (TotalBits == 64)
            {
                return BitConverter.DoubleToUInt64Bits(BitConverter.UInt64BitsToDouble(a) / BitConverter.UInt64BitsToDouble(b));
            }

            return BitConverter.SingleToUInt32Bits((float)((double)BitConverter.UInt32BitsToSingle((uint)a) / BitConverter.UInt32BitsToSingle((uint)b)));
        }

        /// <summary>-(a*b) rounded by the host (an approximate value is all the generator needs).</summary>
        public ulong NegatedProduct(ulong a, ulong b)
        {
            if (TotalBits == 64)
            {
                return BitConverter.DoubleToUInt64Bits(-(BitConverter.UInt64BitsToDouble(a) * BitConverter.UInt64BitsToDouble(b)));
            }

            return BitConverter.SingleToUInt32Bits(-(BitConverter.UInt32BitsToSingle((uint)a) * BitConverter.UInt32BitsToSingle((uint)b)));
        }
    }
}
