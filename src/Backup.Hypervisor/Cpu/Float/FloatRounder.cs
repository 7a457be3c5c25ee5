using System.Numerics;

namespace Backup.Hypervisor.Cpu.Float;

/// <summary>
/// The single rounding step of the exact integer path: a real value, given as an integer significand times a power
/// of two, is rounded to a format in one of the five rounding modes, with IEEE 754-2008 flags and RISC-V's
/// tininess-after-rounding underflow rule.
/// </summary>
/// <remarks>
/// Callers that could not keep every bit of an exact result pass it "rounded to odd" (sticky): the bits dropped
/// below the significand's least significant bit are ORed into that bit. As long as such a significand has at
/// least p + 2 bits, rounding it once more to p bits gives the same result in every mode as rounding the exact
/// value, because the odd value lies strictly inside the same interval between two p-bit neighbours and is a tie
/// only when the exact value is one. Every caller keeps at least 62 bits whenever it jams.
/// </remarks>
internal static class FloatRounder
{
    /// <summary>Rounds <c>(negative ? -1 : 1) * significand * 2^exponent</c> (significand nonzero) and packs it.</summary>
    public static ulong RoundPack(bool negative, int exponent, ulong significand, FloatFormat format, int rm, ref uint flags)
    {
        ulong sign = negative ? format.SignBit : 0;
        int msb = 63 - BitOperations.LeadingZeroCount(significand);
        int top = exponent + msb; // the exponent of the leading bit: the value lies in [2^top, 2^(top+1))
        int p = format.Precision;
        if (top >= format.MinExponent)
        {
            ulong q = ShiftRound(significand, msb - (p - 1), negative, rm, out bool inexact);
            if (q >> p != 0)
            {
                q >>= 1;
                top++;
            }

            if (inexact)
            {
                flags |= FloatFlags.Inexact;
            }

            if (top > format.Bias)
            {
                return Overflow(negative, format, rm, ref flags);
            }

            return sign | ((ulong)(top + format.Bias) << format.FractionBits) | (q & format.FractionMask);
        }

        // Tiny before rounding: round at the subnormal quantum 2^(emin - p + 1). A carry into bit p - 1 makes the
        // smallest normal number, whose encoding (exponent field 1, fraction 0) is exactly that significand.
        int quantum = format.MinExponent - (p - 1);
        ulong sub = ShiftRound(significand, quantum - exponent, negative, rm, out bool subInexact);
        if (subInexact)
        {
            // Tininess after rounding: tiny unless rounding to p bits with an unbounded exponent reaches 2^emin.
            ulong unbounded = ShiftRound(significand, msb - (p - 1), negative, rm, out _);
            bool reachesNormal = unbounded >> p != 0 && top + 1 == format.MinExponent;
            flags |= reachesNormal ? FloatFlags.Inexact : FloatFlags.Inexact | FloatFlags.Underflow;
        }

        return sign | sub;
    }

    /// <summary>The result of an overflow: infinity or the largest finite number, by rounding direction.</summary>
    public static ulong Overflow(bool negative, FloatFormat format, int rm, ref uint flags)
    {
        flags |= FloatFlags.Overflow | FloatFlags.Inexact;
        bool toInfinity = rm switch
        {
            FloatRounding.TowardZero => false,
            FloatRounding.Down => negative,
            FloatRounding.Up => !negative,
            _ => true,
        };
        return (negative ? format.SignBit : 0) | (toInfinity ? format.Infinity : format.MaxFinite);
    }

    /// <summary>
    /// <paramref name="value"/> divided by 2^<paramref name="shift"/> and rounded to an integer in mode
    /// <paramref name="rm"/> (a negative shift multiplies exactly); the result may carry into one more bit.
    /// </summary>
    public static ulong ShiftRound(ulong value, int shift, bool negative, int rm, out bool inexact)
    {
        if (shift <= 0)
        {
            inexact = false;
            return value << -shift;
        }

        ulong kept, rest, half;
        if (shift >= 64)
        {
            kept = 0;
            rest = value;
            // With shift > 64 the dropped value is below 2^64 <= half, so it compares as "below half".
            half = shift == 64 ? 1UL << 63 : ulong.MaxValue;
            if (shift > 64 && rest == ulong.MaxValue)
            {
                rest--; // keep "rest < half" true for the one value that would compare equal
            }
        }
        else
        {
            kept = value >> shift;
            rest = value & ((1UL << shift) - 1);
            half = 1UL << (shift - 1);
        }

        inexact = rest != 0;
        return kept + (RoundsUp(kept, rest, half, negative, rm) ? 1UL : 0);
    }

    /// <summary>Whether a magnitude with kept part <paramref name="kept"/> and dropped part <paramref name="rest"/> rounds away from zero.</summary>
    public static bool RoundsUp(ulong kept, ulong rest, ulong half, bool negative, int rm) => rm switch
    {
        FloatRounding.NearestEven => rest > half || (rest == half && (kept & 1) != 0),
        FloatRounding.NearestMaxMagnitude => rest >= half,
        FloatRounding.Down => rest != 0 && negative,
        FloatRounding.Up => rest != 0 && !negative,
        _ => false,
    };

    /// <summary>Shifts right, ORing every bit shifted out into the least significant bit (round to odd).</summary>
    public static UInt128 ShiftRightJam(UInt128 value, int shift)
    {
        if (shift <= 0)
        {
            return value;
        }

        if (shift >= 128)
        {
            return value != 0 ? UInt128.One : UInt128.Zero;
        }

        UInt128 dropped = value & ((UInt128.One << shift) - 1);
        return (value >> shift) | (dropped != 0 ? UInt128.One : UInt128.Zero);
    }

    /// <summary>Narrows a 128-bit significand to 64 bits, jamming the dropped bits and raising the exponent to match.</summary>
    public static ulong Narrow(UInt128 value, ref int exponent)
    {
        int bits = 128 - (int)UInt128.LeadingZeroCount(value);
        if (bits <= 64)
        {
            return (ulong)value;
        }

        exponent += bits - 64;
        return (ulong)ShiftRightJam(value, bits - 64);
    }
}
