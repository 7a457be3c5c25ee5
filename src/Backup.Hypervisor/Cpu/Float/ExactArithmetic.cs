using System.Numerics;

namespace Backup.Hypervisor.Cpu.Float;

/// <summary>
/// The reference implementation of the rounded operations on integers only (significands and exponents, 128-bit
/// intermediates), for both formats and every rounding mode. <see cref="SoftFloat"/> calls it for everything its
/// host fast paths do not cover; tests compare the two.
/// </summary>
internal static class ExactArithmetic
{
    /// <summary>a + b (subtraction is addition of b with its sign flipped).</summary>
    public static ulong Add(ulong a, ulong b, FloatFormat f, int rm, ref uint flags)
    {
        if (f.IsNaN(a) || f.IsNaN(b))
        {
            return NaNResult(a, b, f, ref flags);
        }

        bool infA = f.IsInfinity(a), infB = f.IsInfinity(b);
        if (infA || infB)
        {
            if (infA && infB && f.IsNegative(a) != f.IsNegative(b))
            {
                return Invalid(f, ref flags);
            }

            return infA ? a : b;
        }

        bool zeroA = f.IsZero(a), zeroB = f.IsZero(b);
        if (zeroA || zeroB)
        {
            if (zeroA && zeroB)
            {
                return f.IsNegative(a) == f.IsNegative(b) ? a : ZeroSum(f, rm);
            }

            return zeroA ? b : a;
        }

        ulong sa = f.Unpack(a, out int ea), sb = f.Unpack(b, out int eb);
        return AddWide(f.IsNegative(a), ea, sa, f.IsNegative(b), eb, sb, f, rm, ref flags);
    }

    public static ulong Multiply(ulong a, ulong b, FloatFormat f, int rm, ref uint flags)
    {
        if (f.IsNaN(a) || f.IsNaN(b))
        {
            return NaNResult(a, b, f, ref flags);
        }

        bool negative = f.IsNegative(a) != f.IsNegative(b);
        ulong sign = negative ? f.SignBit : 0;
        if (f.IsInfinity(a) || f.IsInfinity(b))
        {
            return f.IsZero(a) || f.IsZero(b) ? Invalid(f, ref flags) : sign | f.Infinity;
        }

        if (f.IsZero(a) || f.IsZero(b))
        {
            return sign;
        }

        ulong sa = f.Unpack(a, out int ea), sb = f.Unpack(b, out int eb);
        int exponent = ea + eb;
        ulong product = FloatRounder.Narrow(Math.BigMul(sa, sb), ref exponent);
        return FloatRounder.RoundPack(negative, exponent, product, f, rm, ref flags);
    }

    public static ulong Divide(ulong a, ulong b, FloatFormat f, int rm, ref uint flags)
    {
        if (f.IsNaN(a) || f.IsNaN(b))
        {
            return NaNResult(a, b, f, ref flags);
        }

        bool negative = f.IsNegative(a) != f.IsNegative(b);
        ulong sign = negative ? f.SignBit : 0;
        bool infA = f.IsInfinity(a), infB = f.IsInfinity(b);
        if (infA || infB)
        {
            return infA && infB ? Invalid(f, ref flags) : infA ? sign | f.Infinity : sign;
        }

        if (f.IsZero(b))
        {
            if (f.IsZero(a))
            {
                return Invalid(f, ref flags);
            }

            flags |= FloatFlags.DivideByZero;
            return sign | f.Infinity;
        }

        if (f.IsZero(a))
        {
            return sign;
        }

        // Dividend normalized to bit 62, divisor to bit 63: the quotient of (dividend << 64) / divisor lies in
        // (2^62, 2^64), at least 63 bits, and a nonzero remainder is jammed into its last bit.
        ulong sa = f.Unpack(a, out int ea), sb = f.Unpack(b, out int eb);
        int la = BitOperations.LeadingZeroCount(sa) - 1, lb = BitOperations.LeadingZeroCount(sb);
        sa <<= la;
        sb <<= lb;
        UInt128 dividend = (UInt128)sa << 64;
        UInt128 quotient = dividend / sb;
        UInt128 remainder = dividend - (quotient * sb);
        ulong q = (ulong)quotient | (remainder != 0 ? 1UL : 0);
        int exponent = (ea - la) - (eb - lb) - 64;
        return FloatRounder.RoundPack(negative, exponent, q, f, rm, ref flags);
    }

    public static ulong SquareRoot(ulong a, FloatFormat f, int rm, ref uint flags)
    {
        if (f.IsNaN(a))
        {
            return NaNResult(a, a, f, ref flags);
        }

        if (f.IsZero(a))
        {
            return a;
        }

        if (f.IsNegative(a))
        {
            return Invalid(f, ref flags);
        }

        if (f.IsInfinity(a))
        {
            return a;
        }

        // The radicand as a 128-bit integer with its leading bit at 127 or 126 and an even exponent; its integer
        // square root has 64 bits and a nonzero remainder is jammed into the last.
        ulong s = f.Unpack(a, out int e);
        int lz = BitOperations.LeadingZeroCount(s);
        UInt128 radicand = (UInt128)(s << lz) << 64;
        e -= lz + 64;
        if ((e & 1) != 0)
        {
            radicand >>= 1;
            e++;
        }

        ulong root = IntegerSquareRoot(radicand, out bool exact);
        return FloatRounder.RoundPack(false, e / 2, root | (exact ? 0UL : 1UL), f, rm, ref flags);
    }

    /// <summary>a*b + c, rounded once; NV for infinity times zero even when c is a quiet NaN.</summary>
    public static ulong MulAdd(ulong a, ulong b, ulong c, FloatFormat f, int rm, ref uint flags)
    {
        bool infTimesZero = (f.IsInfinity(a) && f.IsZero(b)) || (f.IsZero(a) && f.IsInfinity(b));
        if (f.IsNaN(a) || f.IsNaN(b) || f.IsNaN(c))
        {
            if (infTimesZero || f.IsSignalingNaN(a) || f.IsSignalingNaN(b) || f.IsSignalingNaN(c))
            {
                flags |= FloatFlags.Invalid;
            }

            return f.CanonicalNaN;
        }

        if (infTimesZero)
        {
            return Invalid(f, ref flags);
        }

        bool productNegative = f.IsNegative(a) != f.IsNegative(b);
        ulong productSign = productNegative ? f.SignBit : 0;
        if (f.IsInfinity(a) || f.IsInfinity(b))
        {
            return f.IsInfinity(c) && f.IsNegative(c) != productNegative ? Invalid(f, ref flags) : productSign | f.Infinity;
        }

        if (f.IsInfinity(c))
        {
            return c;
        }

        if (f.IsZero(a) || f.IsZero(b))
        {
            return !f.IsZero(c) ? c : f.IsNegative(c) == productNegative ? c : ZeroSum(f, rm);
        }

        ulong sa = f.Unpack(a, out int ea), sb = f.Unpack(b, out int eb);
        UInt128 product = Math.BigMul(sa, sb);
        int pe = ea + eb;
        if (f.IsZero(c))
        {
            ulong narrowed = FloatRounder.Narrow(product, ref pe);
            return FloatRounder.RoundPack(productNegative, pe, narrowed, f, rm, ref flags);
        }

        ulong sc = f.Unpack(c, out int ec);
        return AddWide(productNegative, pe, product, f.IsNegative(c), ec, sc, f, rm, ref flags);
    }

    /// <summary>The NaN result of an operation with a NaN operand: canonical, NV when either is signaling.</summary>
    public static ulong NaNResult(ulong a, ulong b, FloatFormat f, ref uint flags)
    {
        if (f.IsSignalingNaN(a) || f.IsSignalingNaN(b))
        {
            flags |= FloatFlags.Invalid;
        }

        return f.CanonicalNaN;
    }

    public static ulong Invalid(FloatFormat f, ref uint flags)
    {
        flags |= FloatFlags.Invalid;
        return f.CanonicalNaN;
    }

    /// <summary>The zero that an exact sum of opposite values gives: +0, or -0 when rounding down.</summary>
    private static ulong ZeroSum(FloatFormat f, int rm) => rm == FloatRounding.Down ? f.SignBit : 0;

    /// <summary>
    /// The rounded sum of two nonzero exact values given as significand * 2^exponent (up to 106 bits each). Both are
    /// normalized to leading bit 125; the one with the smaller exponent is also the smaller in magnitude and is
    /// shifted right with jamming. The normalization leaves at least 19 zero bits at the bottom of each, so a shift
    /// of 0 or 1 (where subtraction can cancel many leading bits) loses nothing, and after a larger shift at most
    /// one leading bit cancels, leaving well over p + 2 bits above the jammed one.
    /// </summary>
    private static ulong AddWide(bool na, int ea, UInt128 sa, bool nb, int eb, UInt128 sb, FloatFormat f, int rm, ref uint flags)
    {
        int shiftA = (int)UInt128.LeadingZeroCount(sa) - 2, shiftB = (int)UInt128.LeadingZeroCount(sb) - 2;
        sa <<= shiftA;
        ea -= shiftA;
        sb <<= shiftB;
        eb -= shiftB;
        if (ea < eb || (ea == eb && sa < sb))
        {
            (na, ea, sa, nb, eb, sb) = (nb, eb, sb, na, ea, sa);
        }

        sb = FloatRounder.ShiftRightJam(sb, ea - eb);
        UInt128 sum = na == nb ? sa + sb : sa - sb;
        if (sum == 0)
        {
            return ZeroSum(f, rm);
        }

        ulong narrowed = FloatRounder.Narrow(sum, ref ea);
        return FloatRounder.RoundPack(na, ea, narrowed, f, rm, ref flags);
    }

    /// <summary>floor(sqrt(value)) for value below 2^128, and whether it is exact.</summary>
    private static ulong IntegerSquareRoot(UInt128 value, out bool exact)
    {
        // A double estimate (relative error near 2^-52) and one Newton step reach within one of the root; the
        // loops then make it exact whatever the estimate was.
        UInt128 root = (UInt128)Math.Sqrt((double)value);
        if (root > ulong.MaxValue)
        {
            root = ulong.MaxValue;
        }

        if (root != 0)
        {
            root = (root + (value / root)) >> 1;
            if (root > ulong.MaxValue)
            {
                root = ulong.MaxValue;
            }
        }

        while (root * root > value)
        {
            root--;
        }

        while (value - (root * root) >= (root << 1) + 1)
        {
            root++;
        }

        exact = root * root == value;
        return (ulong)root;
    }
}
