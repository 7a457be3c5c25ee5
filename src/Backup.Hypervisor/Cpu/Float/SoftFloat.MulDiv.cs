namespace Backup.Hypervisor.Cpu.Float;

/// <summary>FMUL, FDIV and FSQRT.</summary>
internal static partial class SoftFloat
{
    public static ulong Mul64(ulong a, ulong b, int rm, ref uint flags)
    {
        // Fast path: normal operands whose unbiased exponents sum to ea+eb in [-968, 1021]. The product then lies
        // in [2^-968, 2^1023): normal, not tiny, no overflow, so the host product is the RNE result and only NX is
        // in question. The exact product is a multiple of 2^(ea+eb-104) >= 2^-1072, and so is the rounded one; the
        // error is such a multiple below half an ulp, so it has at most 53 bits and FMA(a, b, -p) returns it
        // exactly: NX iff it is nonzero.
        int fa = (int)(a >> 52) & 0x7FF, fb = (int)(b >> 52) & 0x7FF;
        if (rm == FloatRounding.NearestEven && (uint)(fa - 1) < 0x7FE && (uint)(fb - 1) < 0x7FE
            && (uint)(fa + fb - 2046 + 968) <= 968 + 1021)
        {
            double x = BitConverter.UInt64BitsToDouble(a), y = BitConverter.UInt64BitsToDouble(b);
            double p = x * y;
            if ((flags & FloatFlags.Inexact) == 0 && Math.FusedMultiplyAdd(x, y, -p) != 0)
            {
                flags |= FloatFlags.Inexact;
            }

            return BitConverter.DoubleToUInt64Bits(p);
        }

        return ExactArithmetic.Multiply(a, b, FloatFormat.Double, rm, ref flags);
    }

    public static ulong Div64(ulong a, ulong b, int rm, ref uint flags)
    {
        // Fast path: normal operands, ea >= -960 and ea - eb in [-1020, 1021]. The quotient lies in
        // (2^(ea-eb-1), 2^(ea-eb+1)): normal and finite. For the RNE quotient q with exponent eq, the remainder
        // a - q*b is a multiple of U = 2^(eq+eb-104) (a is one too, as eq <= ea - eb) and below
        // |b| * ulp(q) / 2 < 2^52 U, so it fits in 53 bits, and U >= 2^(ea-105) >= 2^-1065 keeps it representable:
        // FMA(-q, b, a) is exact, and NX iff it is nonzero.
        int fa = (int)(a >> 52) & 0x7FF, fb = (int)(b >> 52) & 0x7FF;
        if (rm == FloatRounding.NearestEven && (uint)(fa - 1) < 0x7FE && (uint)(fb - 1) < 0x7FE
            && fa >= 1023 - 960 && (uint)(fa - fb + 1020) <= 1020 + 1021)
        {
            double x = BitConverter.UInt64BitsToDouble(a), y = BitConverter.UInt64BitsToDouble(b);
            double q = x / y;
            if ((flags & FloatFlags.Inexact) == 0 && Math.FusedMultiplyAdd(-q, y, x) != 0)
            {
                flags |= FloatFlags.Inexact;
            }

            return BitConverter.DoubleToUInt64Bits(q);
        }

        return ExactArithmetic.Divide(a, b, FloatFormat.Double, rm, ref flags);
    }

    public static ulong Sqrt64(ulong a, int rm, ref uint flags)
    {
        // Fast path: positive normal a with ea >= -960. The root is normal. With s = RN(sqrt(a)) of exponent es,
        // a - s*s is a multiple of U = 2^(2es-104) >= 2^-1064 (a is one too, as 2es <= ea) and
        // |a - s^2| = |sqrt(a) - s| (sqrt(a) + s) < ulp(s)/2 * 2^(es+2) = 2^53 U, so FMA(-s, s, a) is exact:
        // NX iff it is nonzero.
        int fa = (int)(a >> 52) & 0x7FF;
        if (rm == FloatRounding.NearestEven && (long)a >= 0 && fa >= 1023 - 960 && fa < 0x7FF)
        {
            double x = BitConverter.UInt64BitsToDouble(a);
            double s = Math.Sqrt(x);
            if ((flags & FloatFlags.Inexact) == 0 && Math.FusedMultiplyAdd(-s, s, x) != 0)
            {
                flags |= FloatFlags.Inexact;
            }

            return BitConverter.DoubleToUInt64Bits(s);
        }

        return ExactArithmetic.SquareRoot(a, FloatFormat.Double, rm, ref flags);
    }

    public static uint Mul32(uint a, uint b, int rm, ref uint flags)
    {
        // Fast path: finite operands (any, subnormals included). The product of two 24-bit significands is exact
        // in double (48 bits, exponents far inside double's range), so the host's single product is the RNE
        // result and NX iff it differs from the double product. Results with exponent field 0 or 1 (where UF may
        // apply, tininess being decided after rounding) or 0xFF (overflow) go to the exact path; an exactly zero
        // product (a zero operand) is returned as the host's correctly signed zero.
        if (rm == FloatRounding.NearestEven && ((a >> 23) & 0xFF) != 0xFF && ((b >> 23) & 0xFF) != 0xFF)
        {
            float x = BitConverter.UInt32BitsToSingle(a), y = BitConverter.UInt32BitsToSingle(b);
            double exact = (double)x * y;
            float p = x * y;
            uint bits = BitConverter.SingleToUInt32Bits(p);
            if ((uint)(((bits >> 23) & 0xFF) - 2) < 0xFD || exact == 0)
            {
                if (p != exact)
                {
                    flags |= FloatFlags.Inexact;
                }

                return bits;
            }
        }

        return (uint)ExactArithmetic.Multiply(a, b, FloatFormat.Single, rm, ref flags);
    }

    public static uint Div32(uint a, uint b, int rm, ref uint flags)
    {
        // Fast path: finite operands, b nonzero. The host's single quotient q is the RNE result; q*b is exact in
        // double (48 bits), so FMA(-q, b, a) in double is zero iff a = q*b, i.e. iff the quotient is exact (a
        // nonzero difference is a multiple of 2^-298 and cannot round to zero). Results with exponent field 0, 1
        // or 0xFF go to the exact path, except a quotient that is exactly zero (a = 0).
        if (rm == FloatRounding.NearestEven && ((a >> 23) & 0xFF) != 0xFF && ((b >> 23) & 0xFF) != 0xFF
            && (b & 0x7FFF_FFFF) != 0)
        {
            float x = BitConverter.UInt32BitsToSingle(a), y = BitConverter.UInt32BitsToSingle(b);
            float q = x / y;
            uint bits = BitConverter.SingleToUInt32Bits(q);
            if ((uint)(((bits >> 23) & 0xFF) - 2) < 0xFD || (a & 0x7FFF_FFFF) == 0)
            {
                if ((flags & FloatFlags.Inexact) == 0 && Math.FusedMultiplyAdd(-(double)q, y, x) != 0)
                {
                    flags |= FloatFlags.Inexact;
                }

                return bits;
            }
        }

        return (uint)ExactArithmetic.Divide(a, b, FloatFormat.Single, rm, ref flags);
    }

    public static uint Sqrt32(uint a, int rm, ref uint flags)
    {
        // Fast path: positive finite a (subnormals included); the root of a single is a normal single. The host's
        // single square root is the RNE result; s*s is exact in double, so NX iff it differs from a.
        if (rm == FloatRounding.NearestEven && a - 1 < 0x7F80_0000 - 1)
        {
            float x = BitConverter.UInt32BitsToSingle(a);
            float s = MathF.Sqrt(x);
            if ((double)s * s != x)
            {
                flags |= FloatFlags.Inexact;
            }

            return BitConverter.SingleToUInt32Bits(s);
        }

        return (uint)ExactArithmetic.SquareRoot(a, FloatFormat.Single, rm, ref flags);
    }
}
