namespace Backup.Hypervisor.Cpu.Float;

/// <summary>FMADD (and, with operand signs flipped by the caller, FMSUB, FNMSUB and FNMADD).</summary>
internal static partial class SoftFloat
{
    /// <summary>a*b + c with one rounding; NV for inf*0 even when c is a quiet NaN.</summary>
    public static ulong MulAdd64(ulong a, ulong b, ulong c, int rm, ref uint flags)
    {
        // Fast path: normal a and b with ea+eb in [-968, 1020], finite c with |c| < 2^1022, and a host result r
        // with exponent field in [2, 0x7FC] (normal, not tiny, no overflow, no overflow inside TwoSum below).
        // r = FMA(a, b, c) is the single RNE rounding. For NX: p = RN(ab) and e = FMA(a, b, -p) give ab = p + e
        // exactly (the Mul64 argument), and TwoSum gives r - c = d + d' exactly with d = RN(r - c). If ab + c = r
        // then r - c = ab, so d = RN(ab) = p and d' = ab - p = e; conversely d = p and d' = e give ab = r - c.
        // So the result is exact iff d == p and d' == e.
        int fa = (int)(a >> 52) & 0x7FF, fb = (int)(b >> 52) & 0x7FF;
        if (rm == FloatRounding.NearestEven && (uint)(fa - 1) < 0x7FE && (uint)(fb - 1) < 0x7FE
            && (uint)(fa + fb - 2046 + 968) <= 968 + 1020 && ((c >> 52) & 0x7FF) <= 0x7FC)
        {
            double x = BitConverter.UInt64BitsToDouble(a), y = BitConverter.UInt64BitsToDouble(b);
            double z = BitConverter.UInt64BitsToDouble(c);
            double r = Math.FusedMultiplyAdd(x, y, z);
            ulong bits = BitConverter.DoubleToUInt64Bits(r);
            if ((uint)(((bits >> 52) & 0x7FF) - 2) < 0x7FB)
            {
                if ((flags & FloatFlags.Inexact) != 0)
                {
                    return bits; // NX is already set: the exactness check could not change fflags
                }

                double p = x * y;
                double e = Math.FusedMultiplyAdd(x, y, -p);
                double d = r - z;
                if (d != p || TwoSumError(r, -z, d) != e)
                {
                    flags |= FloatFlags.Inexact;
                }

                return bits;
            }
        }

        return ExactArithmetic.MulAdd(a, b, c, FloatFormat.Double, rm, ref flags);
    }

    public static uint MulAdd32(uint a, uint b, uint c, int rm, ref uint flags)
    {
        // Fast path: finite operands and a host result r = FMA(a, b, c) (single, one RNE rounding) with exponent
        // field in [2, 0xFE]. In double, ab is exact (48 bits) and TwoSum gives ab + c = s + t exactly. If t != 0
        // the exact sum needs more than 53 bits, so it is not the 24-bit r: inexact. If t == 0 the sum is s, and it
        // is exact iff s == r. Everything stays far inside double's range, so no step overflows or underflows.
        if (rm == FloatRounding.NearestEven && ((a >> 23) & 0xFF) != 0xFF && ((b >> 23) & 0xFF) != 0xFF
            && ((c >> 23) & 0xFF) != 0xFF)
        {
            float x = BitConverter.UInt32BitsToSingle(a), y = BitConverter.UInt32BitsToSingle(b);
            float z = BitConverter.UInt32BitsToSingle(c);
            float r = MathF.FusedMultiplyAdd(x, y, z);
            uint bits = BitConverter.SingleToUInt32Bits(r);
            if ((uint)(((bits >> 23) & 0xFF) - 2) < 0xFD)
            {
                double p = (double)x * y;
                double s = p + z;
                if (TwoSumError(p, z, s) != 0 || s != r)
                {
                    flags |= FloatFlags.Inexact;
                }

                return bits;
            }
        }

        return (uint)ExactArithmetic.MulAdd(a, b, c, FloatFormat.Single, rm, ref flags);
    }
}
