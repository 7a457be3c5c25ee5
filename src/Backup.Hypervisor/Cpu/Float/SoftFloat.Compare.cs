namespace Backup.Hypervisor.Cpu.Float;

/// <summary>FMIN, FMAX, FEQ, FLT, FLE and FCLASS: exact by nature, so bit operations only.</summary>
internal static partial class SoftFloat
{
    /// <summary>FMIN/FMAX (RISC-V 2.2+: -0 &lt; +0, a NaN operand yields the other, two NaNs the canonical NaN, NV on sNaN).</summary>
    public static ulong Min64(ulong a, ulong b, ref uint flags) => MinMax(a, b, FloatFormat.Double, max: false, ref flags);

    public static ulong Max64(ulong a, ulong b, ref uint flags) => MinMax(a, b, FloatFormat.Double, max: true, ref flags);

    public static uint Min32(uint a, uint b, ref uint flags) => (uint)MinMax(a, b, FloatFormat.Single, max: false, ref flags);

    public static uint Max32(uint a, uint b, ref uint flags) => (uint)MinMax(a, b, FloatFormat.Single, max: true, ref flags);

    /// <summary>FEQ is quiet (NV only on sNaN); FLT and FLE are signaling (NV on any NaN).</summary>
    public static bool Eq64(ulong a, ulong b, ref uint flags) => Equal(a, b, FloatFormat.Double, ref flags);

    public static bool Lt64(ulong a, ulong b, ref uint flags) => Less(a, b, FloatFormat.Double, orEqual: false, ref flags);

    public static bool Le64(ulong a, ulong b, ref uint flags) => Less(a, b, FloatFormat.Double, orEqual: true, ref flags);

    public static bool Eq32(uint a, uint b, ref uint flags) => Equal(a, b, FloatFormat.Single, ref flags);

    public static bool Lt32(uint a, uint b, ref uint flags) => Less(a, b, FloatFormat.Single, orEqual: false, ref flags);

    public static bool Le32(uint a, uint b, ref uint flags) => Less(a, b, FloatFormat.Single, orEqual: true, ref flags);

    /// <summary>FCLASS: the one-hot 10-bit mask (bit 0 -inf ... bit 9 quiet NaN).</summary>
    public static ulong Classify64(ulong a) => Classify(a, FloatFormat.Double);

    public static ulong Classify32(uint a) => Classify(a, FloatFormat.Single);

    private static ulong MinMax(ulong a, ulong b, FloatFormat f, bool max, ref uint flags)
    {
        bool nanA = f.IsNaN(a), nanB = f.IsNaN(b);
        if (nanA || nanB)
        {
            if (f.IsSignalingNaN(a) || f.IsSignalingNaN(b))
            {
                flags |= FloatFlags.Invalid;
            }

            return nanA && nanB ? f.CanonicalNaN : nanA ? b : a;
        }

        // With -0 ordered below +0 the order of non-NaN values is that of sign-magnitude integers.
        bool aBelowB = OrderedBelow(a, b, f);
        return aBelowB != max ? a : b;
    }

    private static bool Equal(ulong a, ulong b, FloatFormat f, ref uint flags)
    {
        if (f.IsNaN(a) || f.IsNaN(b))
        {
            if (f.IsSignalingNaN(a) || f.IsSignalingNaN(b))
            {
                flags |= FloatFlags.Invalid;
            }

            return false;
        }

        return a == b || (f.IsZero(a) && f.IsZero(b));
    }

    private static bool Less(ulong a, ulong b, FloatFormat f, bool orEqual, ref uint flags)
    {
        if (f.IsNaN(a) || f.IsNaN(b))
        {
            flags |= FloatFlags.Invalid;
            return false;
        }

        if (f.IsZero(a) && f.IsZero(b))
        {
            return orEqual;
        }

        return a == b ? orEqual : OrderedBelow(a, b, f);
    }

    /// <summary>a &lt; b for non-NaN values, with -0 below +0.</summary>
    private static bool OrderedBelow(ulong a, ulong b, FloatFormat f)
    {
        bool negA = f.IsNegative(a), negB = f.IsNegative(b);
        if (negA != negB)
        {
            return negA;
        }

        return negA ? a > b : a < b;
    }

    private static ulong Classify(ulong a, FloatFormat f)
    {
        bool negative = f.IsNegative(a);
        int bit;
        if (f.IsNaN(a))
        {
            bit = (a & f.QuietBit) != 0 ? 9 : 8;
        }
        else if (f.IsInfinity(a))
        {
            bit = negative ? 0 : 7;
        }
        else if (f.IsZero(a))
        {
            bit = negative ? 3 : 4;
        }
        else if (f.ExponentOf(a) == 0)
        {
            bit = negative ? 2 : 5;
        }
        else
        {
            bit = negative ? 1 : 6;
        }

        return 1UL << bit;
    }
}
