namespace Backup.Hypervisor.Cpu.Float;

/// <summary>FCVT from floating point to integers, with RISC-V's saturation.</summary>
internal static partial class SoftFloat
{
    // Float to integer (RISC-V saturation: NaN and +overflow give the largest value, -overflow the smallest; out of
    // range sets NV and not NX; in range but not integral sets NX). 32-bit results are returned sign-extended as
    // FCVT.W[U].* writes them to rd.
    public static ulong F64ToI64(ulong a, int rm, ref uint flags) => ToInteger(a, FloatFormat.Double, IntegerRange.Int64, rm, ref flags);

    public static ulong F64ToU64(ulong a, int rm, ref uint flags) => ToInteger(a, FloatFormat.Double, IntegerRange.UInt64, rm, ref flags);

    public static ulong F64ToI32(ulong a, int rm, ref uint flags) => ToInteger(a, FloatFormat.Double, IntegerRange.Int32, rm, ref flags);

    public static ulong F64ToU32(ulong a, int rm, ref uint flags) => ToInteger(a, FloatFormat.Double, IntegerRange.UInt32, rm, ref flags);

    public static ulong F32ToI64(uint a, int rm, ref uint flags) => ToInteger(a, FloatFormat.Single, IntegerRange.Int64, rm, ref flags);

    public static ulong F32ToU64(uint a, int rm, ref uint flags) => ToInteger(a, FloatFormat.Single, IntegerRange.UInt64, rm, ref flags);

    public static ulong F32ToI32(uint a, int rm, ref uint flags) => ToInteger(a, FloatFormat.Single, IntegerRange.Int32, rm, ref flags);

    public static ulong F32ToU32(uint a, int rm, ref uint flags) => ToInteger(a, FloatFormat.Single, IntegerRange.UInt32, rm, ref flags);

    /// <summary>The integer ranges of FCVT.{W,WU,L,LU}.</summary>
    internal enum IntegerRange
    {
        Int64,
        UInt64,
        Int32,
        UInt32,
    }

    internal static ulong ToInteger(ulong a, FloatFormat f, IntegerRange range, int rm, ref uint flags)
    {
        // Fast path, every mode: the host rounds to an integral double in the requested direction (roundsd for
        // RNE/RTZ/RDN/RUP; Math.Round's away-from-zero variant for RMM), exactly, since an integral value of a
        // double or widened single is a double. If that lies in the target range, converting it to the integer is
        // exact, and the result is inexact iff rounding changed the value. NaN fails both comparisons and goes to
        // the exact path with infinities and everything out of range (NV, saturation).
        double x = f == FloatFormat.Double ? BitConverter.UInt64BitsToDouble(a) : BitConverter.UInt32BitsToSingle((uint)a);
        double rounded = rm switch
        {
            FloatRounding.NearestEven => Math.Round(x),
            FloatRounding.TowardZero => Math.Truncate(x),
            FloatRounding.Down => Math.Floor(x),
            FloatRounding.Up => Math.Ceiling(x),
            _ => Math.Round(x, MidpointRounding.AwayFromZero),
        };
        var (lower, upperExclusive) = range switch
        {
            IntegerRange.Int64 => (-9223372036854775808.0, 9223372036854775808.0),
            IntegerRange.UInt64 => (0.0, 18446744073709551616.0),
            IntegerRange.Int32 => (-2147483648.0, 2147483648.0),
            _ => (0.0, 4294967296.0),
        };
        if (rounded >= lower && rounded < upperExclusive)
        {
            if (rounded != x)
            {
                flags |= FloatFlags.Inexact;
            }

            ulong integer = lower < 0 ? (ulong)(long)rounded : (ulong)rounded;
            return range is IntegerRange.Int64 or IntegerRange.UInt64 ? integer : (ulong)(long)(int)(uint)integer;
        }

        return ToIntegerExact(a, f, range, rm, ref flags);
    }

    /// <summary>The integer path of the float-to-integer conversions (every input; the reference for the host path).</summary>
    internal static ulong ToIntegerExact(ulong a, FloatFormat f, IntegerRange range, int rm, ref uint flags)
    {
        bool signed = range is IntegerRange.Int64 or IntegerRange.Int32;
        int width = range is IntegerRange.Int64 or IntegerRange.UInt64 ? 64 : 32;

        // The largest magnitudes in range: 2^(w-1)-1 / 2^(w-1) for signed, 2^w-1 / 0 for unsigned.
        ulong maxPositive = signed ? (1UL << (width - 1)) - 1 : width == 64 ? ulong.MaxValue : uint.MaxValue;
        ulong maxNegative = signed ? 1UL << (width - 1) : 0;
        bool negative = f.IsNegative(a);
        if (f.IsNaN(a))
        {
            negative = false;
        }

        ulong magnitude;
        bool inRange;
        bool inexact = false;
        if (f.IsNaN(a) || f.IsInfinity(a))
        {
            magnitude = 0;
            inRange = false;
        }
        else if (f.IsZero(a))
        {
            magnitude = 0;
            inRange = true;
        }
        else
        {
            ulong significand = f.Unpack(a, out int exponent);
            if (exponent >= 0)
            {
                // An integer already; 2^64 or more when its leading bit lands at 64 or above.
                int bits = 64 - System.Numerics.BitOperations.LeadingZeroCount(significand);
                inRange = bits + exponent <= 64;
                magnitude = inRange ? significand << exponent : 0;
            }
            else
            {
                // The significand has at most 53 bits, so the rounded magnitude cannot carry past 2^53.
                magnitude = FloatRounder.ShiftRound(significand, -exponent, negative, rm, out inexact);
                inRange = true;
            }

            inRange = inRange && (negative ? magnitude <= maxNegative : magnitude <= maxPositive);
        }

        if (!inRange)
        {
            flags |= FloatFlags.Invalid;
            return Extend(negative ? 0 - maxNegative : maxPositive, width);
        }

        if (inexact)
        {
            flags |= FloatFlags.Inexact;
        }

        return Extend(negative ? 0 - magnitude : magnitude, width);
    }

    /// <summary>A 32-bit result sign-extended to 64 bits, as FCVT.W[U] writes rd.</summary>
    private static ulong Extend(ulong value, int width) => width == 64 ? value : (ulong)(long)(int)(uint)value;
}
