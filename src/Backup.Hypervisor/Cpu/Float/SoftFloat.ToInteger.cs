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

    private enum IntegerRange
    {
        Int64,
        UInt64,
        Int32,
        UInt32,
    }

    private static ulong ToInteger(ulong a, FloatFormat f, IntegerRange range, int rm, ref uint flags)
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
