namespace Backup.Hypervisor.Cpu.Float;

/// <summary>
/// IEEE 754-2008 binary32/binary64 arithmetic with RISC-V semantics, on raw bit patterns: every rounding mode
/// (<see cref="FloatRounding"/>, 0-4; callers resolve "dynamic" and reject reserved modes first), exact exception
/// flags ORed into <c>flags</c> (<see cref="FloatFlags"/>), tininess detected after rounding, and the canonical NaN
/// (0x7FC00000 / 0x7FF8000000000000) for every NaN result. NaN-boxing is the caller's business: 32-bit operands
/// here are plain singles.
/// INTERFACE ONLY in this commit: the implementation lands from the softfloat branch.
/// </summary>
internal static partial class SoftFloat
{
    public const uint CanonicalNaN32 = 0x7FC00000;
    public const ulong CanonicalNaN64 = 0x7FF8000000000000;

    public static ulong Add64(ulong a, ulong b, int rm, ref uint flags) => throw new NotImplementedException();
    public static ulong Sub64(ulong a, ulong b, int rm, ref uint flags) => throw new NotImplementedException();
    public static ulong Mul64(ulong a, ulong b, int rm, ref uint flags) => throw new NotImplementedException();
    public static ulong Div64(ulong a, ulong b, int rm, ref uint flags) => throw new NotImplementedException();
    public static ulong Sqrt64(ulong a, int rm, ref uint flags) => throw new NotImplementedException();

    /// <summary>a*b + c with one rounding; NV for inf*0 even when c is a quiet NaN.</summary>
    public static ulong MulAdd64(ulong a, ulong b, ulong c, int rm, ref uint flags) => throw new NotImplementedException();

    public static uint Add32(uint a, uint b, int rm, ref uint flags) => throw new NotImplementedException();
    public static uint Sub32(uint a, uint b, int rm, ref uint flags) => throw new NotImplementedException();
    public static uint Mul32(uint a, uint b, int rm, ref uint flags) => throw new NotImplementedException();
    public static uint Div32(uint a, uint b, int rm, ref uint flags) => throw new NotImplementedException();
    public static uint Sqrt32(uint a, int rm, ref uint flags) => throw new NotImplementedException();
    public static uint MulAdd32(uint a, uint b, uint c, int rm, ref uint flags) => throw new NotImplementedException();

    /// <summary>FMIN/FMAX (RISC-V 2.2+: -0 &lt; +0, a NaN operand yields the other, two NaNs the canonical NaN, NV on sNaN).</summary>
    public static ulong Min64(ulong a, ulong b, ref uint flags) => throw new NotImplementedException();
    public static ulong Max64(ulong a, ulong b, ref uint flags) => throw new NotImplementedException();
    public static uint Min32(uint a, uint b, ref uint flags) => throw new NotImplementedException();
    public static uint Max32(uint a, uint b, ref uint flags) => throw new NotImplementedException();

    /// <summary>FEQ is quiet (NV only on sNaN); FLT and FLE are signaling (NV on any NaN).</summary>
    public static bool Eq64(ulong a, ulong b, ref uint flags) => throw new NotImplementedException();
    public static bool Lt64(ulong a, ulong b, ref uint flags) => throw new NotImplementedException();
    public static bool Le64(ulong a, ulong b, ref uint flags) => throw new NotImplementedException();
    public static bool Eq32(uint a, uint b, ref uint flags) => throw new NotImplementedException();
    public static bool Lt32(uint a, uint b, ref uint flags) => throw new NotImplementedException();
    public static bool Le32(uint a, uint b, ref uint flags) => throw new NotImplementedException();

    /// <summary>FCLASS: the one-hot 10-bit mask (bit 0 -inf ... bit 9 quiet NaN).</summary>
    public static ulong Classify64(ulong a) => throw new NotImplementedException();
    public static ulong Classify32(uint a) => throw new NotImplementedException();

    public static uint F64ToF32(ulong a, int rm, ref uint flags) => throw new NotImplementedException();
    public static ulong F32ToF64(uint a, ref uint flags) => throw new NotImplementedException();

    // Float to integer (RISC-V saturation: NaN and +overflow give the largest value, -overflow the smallest; out of
    // range sets NV and not NX; in range but not integral sets NX). 32-bit results are returned sign-extended as
    // FCVT.W[U].* writes them to rd.
    public static ulong F64ToI64(ulong a, int rm, ref uint flags) => throw new NotImplementedException();
    public static ulong F64ToU64(ulong a, int rm, ref uint flags) => throw new NotImplementedException();
    public static ulong F64ToI32(ulong a, int rm, ref uint flags) => throw new NotImplementedException();
    public static ulong F64ToU32(ulong a, int rm, ref uint flags) => throw new NotImplementedException();
    public static ulong F32ToI64(uint a, int rm, ref uint flags) => throw new NotImplementedException();
    public static ulong F32ToU64(uint a, int rm, ref uint flags) => throw new NotImplementedException();
    public static ulong F32ToI32(uint a, int rm, ref uint flags) => throw new NotImplementedException();
    public static ulong F32ToU32(uint a, int rm, ref uint flags) => throw new NotImplementedException();

    // Integer to float (the operand is the low 32 bits for the W forms).
    public static ulong I64ToF64(ulong v, int rm, ref uint flags) => throw new NotImplementedException();
    public static ulong U64ToF64(ulong v, int rm, ref uint flags) => throw new NotImplementedException();
    public static ulong I32ToF64(uint v) => throw new NotImplementedException();
    public static ulong U32ToF64(uint v) => throw new NotImplementedException();
    public static uint I64ToF32(ulong v, int rm, ref uint flags) => throw new NotImplementedException();
    public static uint U64ToF32(ulong v, int rm, ref uint flags) => throw new NotImplementedException();
    public static uint I32ToF32(uint v, int rm, ref uint flags) => throw new NotImplementedException();
    public static uint U32ToF32(uint v, int rm, ref uint flags) => throw new NotImplementedException();
}
