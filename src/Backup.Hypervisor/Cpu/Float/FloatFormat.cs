namespace Backup.Hypervisor.Cpu.Float;

/// <summary>
/// The parameters of an IEEE 754 binary interchange format (binary32 or binary64) as the exact integer path uses
/// them: a finite nonzero value is <c>significand * 2^exponent</c> with an integer significand.
/// </summary>
internal sealed class FloatFormat
{
    public static readonly FloatFormat Single = new(8, 23);
    public static readonly FloatFormat Double = new(11, 52);

    private FloatFormat(int exponentBits, int fractionBits)
    {
        FractionBits = fractionBits;
        ExponentField = (1 << exponentBits) - 1;
        Bias = (1 << (exponentBits - 1)) - 1;
        Precision = fractionBits + 1;
        MinExponent = 1 - Bias;
        FractionMask = (1UL << fractionBits) - 1;
        SignBit = 1UL << (fractionBits + exponentBits);
        QuietBit = 1UL << (fractionBits - 1);
        Infinity = (ulong)ExponentField << fractionBits;
        MaxFinite = Infinity - 1;
        CanonicalNaN = Infinity | QuietBit;
    }

    /// <summary>23 or 52: the stored fraction bits.</summary>
    public int FractionBits { get; }

    /// <summary>The all-ones exponent field (0xFF or 0x7FF) of infinities and NaNs.</summary>
    public int ExponentField { get; }

    public int Bias { get; }

    /// <summary>p: 24 or 53 significant bits.</summary>
    public int Precision { get; }

    /// <summary>emin: the exponent of the smallest normal number, 1 - bias.</summary>
    public int MinExponent { get; }

    public ulong FractionMask { get; }

    public ulong SignBit { get; }

    /// <summary>The most significant fraction bit: set in quiet NaNs, clear in signaling ones.</summary>
    public ulong QuietBit { get; }

    /// <summary>+infinity's bit pattern.</summary>
    public ulong Infinity { get; }

    /// <summary>The largest finite positive value's bit pattern.</summary>
    public ulong MaxFinite { get; }

    public ulong CanonicalNaN { get; }

    public int ExponentOf(ulong bits) => (int)(bits >> FractionBits) & ExponentField;

    public bool IsNegative(ulong bits) => (bits & SignBit) != 0;

    public bool IsNaN(ulong bits) => (bits & ~SignBit) > Infinity;

    public bool IsSignalingNaN(ulong bits) => IsNaN(bits) && (bits & QuietBit) == 0;

    public bool IsInfinity(ulong bits) => (bits & ~SignBit) == Infinity;

    public bool IsZero(ulong bits) => (bits & ~SignBit) == 0;

    /// <summary>
    /// The integer significand and the exponent of its least significant bit for a finite nonzero value
    /// (subnormals are not normalized: their significand simply has fewer bits).
    /// </summary>
    public ulong Unpack(ulong bits, out int exponent)
    {
        int field = ExponentOf(bits);
        ulong fraction = bits & FractionMask;
        if (field == 0)
        {
            exponent = MinExponent - FractionBits;
            return fraction;
        }

        exponent = field - Bias - FractionBits;
        return fraction | (1UL << FractionBits);
    }
}
