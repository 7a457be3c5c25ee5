namespace Backup.Hypervisor.Cpu.Float;

/// <summary>
/// IEEE 754-2008 binary32/binary64 arithmetic with RISC-V semantics, on raw bit patterns: every rounding mode
/// (<see cref="FloatRounding"/>, 0-4; callers resolve "dynamic" and reject reserved modes first), exact exception
/// flags ORed into <c>flags</c> (<see cref="FloatFlags"/>), tininess detected after rounding, and the canonical NaN
/// (0x7FC00000 / 0x7FF8000000000000) for every NaN result. NaN-boxing is the caller's business: 32-bit operands
/// here are plain singles.
/// </summary>
/// <remarks>
/// Two paths give the same bits and flags (docs/floating-point.md). The exact path (<see cref="ExactArithmetic"/>,
/// <see cref="FloatRounder"/>) works on integer significands and handles every input and mode. The fast paths, taken
/// only for round-to-nearest-even with operands and results well inside the normal range, let the host's IEEE
/// arithmetic produce the result (x64 SSE/AVX and FMA3 round correctly to nearest even) and decide the inexact flag
/// with an error-free transformation; each one states next to its code why it is exact.
/// The other fused forms are <see cref="MulAdd64"/>/<see cref="MulAdd32"/> with sign bits flipped (S = the sign
/// bit): FMSUB = MulAdd(a, b, c ^ S), FNMSUB = MulAdd(a ^ S, b, c), FNMADD = MulAdd(a ^ S, b, c ^ S); this gives
/// the spec's results including the sign of exact zeros and NaN handling (the differential test checks all three
/// against QEMU). FSGNJ*, FMV and NaN-boxing are bit moves for the hart.
/// </remarks>
internal static partial class SoftFloat
{
    public const uint CanonicalNaN32 = 0x7FC00000;
    public const ulong CanonicalNaN64 = 0x7FF8000000000000;

    private const ulong SignBit64 = 0x8000_0000_0000_0000;
    private const uint SignBit32 = 0x8000_0000;
}
