namespace Backup.Hypervisor.Cpu.Float;

/// <summary>FADD and FSUB.</summary>
internal static partial class SoftFloat
{
    public static ulong Add64(ulong a, ulong b, int rm, ref uint flags)
    {
        // Fast path: both operands finite with |x| < 2^1022 (exponent field <= 0x7FC; zeros and subnormals
        // included). The host sum is the RNE result and cannot overflow (|a + b| < 2^1023). A sum in the subnormal
        // range is always exact, so UF never applies. Knuth's TwoSum gives the rounding error exactly (it is exact
        // for any finite operands without overflow, and every intermediate stays below about 2^1023); NX iff it is
        // nonzero.
        if (rm == FloatRounding.NearestEven && ((a >> 52) & 0x7FF) <= 0x7FC && ((b >> 52) & 0x7FF) <= 0x7FC)
        {
            double x = BitConverter.UInt64BitsToDouble(a), y = BitConverter.UInt64BitsToDouble(b);
            double s = x + y;
            if ((flags & FloatFlags.Inexact) == 0 && TwoSumError(x, y, s) != 0)
            {
                flags |= FloatFlags.Inexact;
            }

            return BitConverter.DoubleToUInt64Bits(s);
        }

        return ExactArithmetic.Add(a, b, FloatFormat.Double, rm, ref flags);
    }

    public static ulong Sub64(ulong a, ulong b, int rm, ref uint flags) => Add64(a, b ^ SignBit64, rm, ref flags);

    public static uint Add32(uint a, uint b, int rm, ref uint flags)
    {
        // The same argument in binary32 on the host's single-precision addition: |x| < 2^126 (field <= 0xFC).
        if (rm == FloatRounding.NearestEven && ((a >> 23) & 0xFF) <= 0xFC && ((b >> 23) & 0xFF) <= 0xFC)
        {
            float x = BitConverter.UInt32BitsToSingle(a), y = BitConverter.UInt32BitsToSingle(b);
            float s = x + y;
            float t = s - x;
            if ((x - (s - t)) + (y - t) != 0)
            {
                flags |= FloatFlags.Inexact;
            }

            return BitConverter.SingleToUInt32Bits(s);
        }

        return (uint)ExactArithmetic.Add(a, b, FloatFormat.Single, rm, ref flags);
    }

    public static uint Sub32(uint a, uint b, int rm, ref uint flags) => Add32(a, b ^ SignBit32, rm, ref flags);

    /// <summary>Knuth's TwoSum: x + y - s exactly, for s = RN(x + y) and no overflow.</summary>
    private static double TwoSumError(double x, double y, double s)
    {
        double t = s - x;
        return (x - (s - t)) + (y - t);
    }
}
