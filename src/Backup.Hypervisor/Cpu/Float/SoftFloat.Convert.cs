namespace Backup.Hypervisor.Cpu.Float;

/// <summary>FCVT between the two formats and from integers.</summary>
internal static partial class SoftFloat
{
    public static uint F64ToF32(ulong a, int rm, ref uint flags)
    {
        // Fast path: finite a; the host narrowing is the RNE rounding, NX iff widening it back differs. Results with
        // exponent field 0, 1 (possible UF) or 0xFF (overflow) go to the exact path, except an exact zero.
        if (rm == FloatRounding.NearestEven && ((a >> 52) & 0x7FF) != 0x7FF)
        {
            double x = BitConverter.UInt64BitsToDouble(a);
            float r = (float)x;
            uint bits = BitConverter.SingleToUInt32Bits(r);
            if ((uint)(((bits >> 23) & 0xFF) - 2) < 0xFD || x == 0)
            {
                if (r != x)
                {
                    flags |= FloatFlags.Inexact;
                }

                return bits;
            }
        }

        var d = FloatFormat.Double;
        if (d.IsNaN(a))
        {
            if (d.IsSignalingNaN(a))
            {
                flags |= FloatFlags.Invalid;
            }

            return CanonicalNaN32;
        }

        bool negative = d.IsNegative(a);
        uint sign = negative ? SignBit32 : 0;
        if (d.IsInfinity(a))
        {
            return sign | 0x7F80_0000;
        }

        if (d.IsZero(a))
        {
            return sign;
        }

        ulong significand = d.Unpack(a, out int exponent);
        return (uint)FloatRounder.RoundPack(negative, exponent, significand, FloatFormat.Single, rm, ref flags);
    }

    /// <summary>Widening is exact: only a NaN changes (canonical, NV if it was signaling).</summary>
    public static ulong F32ToF64(uint a, ref uint flags)
    {
        if ((a & 0x7FFF_FFFF) > 0x7F80_0000)
        {
            if ((a & 0x0040_0000) == 0)
            {
                flags |= FloatFlags.Invalid;
            }

            return CanonicalNaN64;
        }

        // Host widening of a non-NaN single (subnormals included) is exact.
        return BitConverter.DoubleToUInt64Bits(BitConverter.UInt32BitsToSingle(a));
    }

    public static ulong I64ToF64(ulong v, int rm, ref uint flags) => FromInteger((long)v < 0, (long)v < 0 ? 0 - v : v, FloatFormat.Double, rm, ref flags);

    public static ulong U64ToF64(ulong v, int rm, ref uint flags) => FromInteger(false, v, FloatFormat.Double, rm, ref flags);

    /// <summary>Exact: every 32-bit integer is a double.</summary>
    public static ulong I32ToF64(uint v) => BitConverter.DoubleToUInt64Bits((int)v);

    public static ulong U32ToF64(uint v) => BitConverter.DoubleToUInt64Bits(v);

    public static uint I64ToF32(ulong v, int rm, ref uint flags) => (uint)FromInteger((long)v < 0, (long)v < 0 ? 0 - v : v, FloatFormat.Single, rm, ref flags);

    public static uint U64ToF32(ulong v, int rm, ref uint flags) => (uint)FromInteger(false, v, FloatFormat.Single, rm, ref flags);

    public static uint I32ToF32(uint v, int rm, ref uint flags)
    {
        int i = (int)v;
        return (uint)FromInteger(i < 0, i < 0 ? 0 - (ulong)(long)i : v, FloatFormat.Single, rm, ref flags);
    }

    public static uint U32ToF32(uint v, int rm, ref uint flags) => (uint)FromInteger(false, v, FloatFormat.Single, rm, ref flags);

    private static ulong FromInteger(bool negative, ulong magnitude, FloatFormat f, int rm, ref uint flags)
    {
        if (magnitude == 0)
        {
            return 0;
        }

        // Below 2^p the integer is exact in the format and the host conversion is used.
        if (magnitude >> f.Precision == 0)
        {
            double value = negative ? -(double)magnitude : magnitude;
            return f == FloatFormat.Double ? BitConverter.DoubleToUInt64Bits(value) : BitConverter.SingleToUInt32Bits((float)value);
        }

        return FloatRounder.RoundPack(negative, 0, magnitude, f, rm, ref flags);
    }
}
