using Backup.Hypervisor.Cpu.Float;

namespace Backup.Hypervisor.Tests.Cpu.Float;

/// <summary>What an operand or result register holds.</summary>
internal enum FloatValueKind
{
    Double,
    Single,
    Int64,
    Int32,
    Integer,
}

/// <summary>
/// One RISC-V instruction as SoftFloat computes it: its mnemonic (as fpref.c lists it), operand and result kinds,
/// whether it has a rounding-mode field, and the SoftFloat call (the rounding mode is ignored by those without).
/// </summary>
internal sealed record FloatOperation(string Name, FloatValueKind Operands, int Arity, FloatValueKind Result, bool TakesRm, FloatOperation.Compute Run)
{
    public delegate ulong Compute(ulong a, ulong b, ulong c, int rm, ref uint flags);

    private const ulong S64 = 0x8000_0000_0000_0000;
    private const uint S32 = 0x8000_0000;

    /// <summary>The bits to compare: a single result is compared on its low 32 bits (fmv.x.w sign-extends them).</summary>
    public ulong Significant(ulong value) => Result == FloatValueKind.Single ? (uint)value : value;

    public static readonly IReadOnlyList<FloatOperation> All =
    [
        D2("fadd.d", (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.Add64(a, b, rm, ref f)),
        D2("fsub.d", (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.Sub64(a, b, rm, ref f)),
        D2("fmul.d", (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.Mul64(a, b, rm, ref f)),
        D2("fdiv.d", (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.Div64(a, b, rm, ref f)),
        new("fsqrt.d", FloatValueKind.Double, 1, FloatValueKind.Double, true, (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.Sqrt64(a, rm, ref f)),
        D3("fmadd.d", (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.MulAdd64(a, b, c, rm, ref f)),
        D3("fmsub.d", (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.MulAdd64(a, b, c ^ S64, rm, ref f)),
        D3("fnmsub.d", (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.MulAdd64(a ^ S64, b, c, rm, ref f)),
        D3("fnmadd.d", (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.MulAdd64(a ^ S64, b, c ^ S64, rm, ref f)),
        S2("fadd.s", (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.Add32((uint)a, (uint)b, rm, ref f)),
        S2("fsub.s", (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.Sub32((uint)a, (uint)b, rm, ref f)),
        S2("fmul.s", (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.Mul32((uint)a, (uint)b, rm, ref f)),
        S2("fdiv.s", (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.Div32((uint)a, (uint)b, rm, ref f)),
        new("fsqrt.s", FloatValueKind.Single, 1, FloatValueKind.Single, true, (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.Sqrt32((uint)a, rm, ref f)),
        S3("fmadd.s", (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.MulAdd32((uint)a, (uint)b, (uint)c, rm, ref f)),
        S3("fmsub.s", (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.MulAdd32((uint)a, (uint)b, (uint)c ^ S32, rm, ref f)),
        S3("fnmsub.s", (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.MulAdd32((uint)a ^ S32, (uint)b, (uint)c, rm, ref f)),
        S3("fnmadd.s", (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.MulAdd32((uint)a ^ S32, (uint)b, (uint)c ^ S32, rm, ref f)),
        new("fmin.d", FloatValueKind.Double, 2, FloatValueKind.Double, false, (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.Min64(a, b, ref f)),
        new("fmax.d", FloatValueKind.Double, 2, FloatValueKind.Double, false, (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.Max64(a, b, ref f)),
        new("fmin.s", FloatValueKind.Single, 2, FloatValueKind.Single, false, (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.Min32((uint)a, (uint)b, ref f)),
        new("fmax.s", FloatValueKind.Single, 2, FloatValueKind.Single, false, (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.Max32((uint)a, (uint)b, ref f)),
        Cmp("feq.d", FloatValueKind.Double, (ulong a, ulong b, ref uint f) => SoftFloat.Eq64(a, b, ref f)),
        Cmp("flt.d", FloatValueKind.Double, (ulong a, ulong b, ref uint f) => SoftFloat.Lt64(a, b, ref f)),
        Cmp("fle.d", FloatValueKind.Double, (ulong a, ulong b, ref uint f) => SoftFloat.Le64(a, b, ref f)),
        Cmp("feq.s", FloatValueKind.Single, (ulong a, ulong b, ref uint f) => SoftFloat.Eq32((uint)a, (uint)b, ref f)),
        Cmp("flt.s", FloatValueKind.Single, (ulong a, ulong b, ref uint f) => SoftFloat.Lt32((uint)a, (uint)b, ref f)),
        Cmp("fle.s", FloatValueKind.Single, (ulong a, ulong b, ref uint f) => SoftFloat.Le32((uint)a, (uint)b, ref f)),
        new("fclass.d", FloatValueKind.Double, 1, FloatValueKind.Integer, false, (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.Classify64(a)),
        new("fclass.s", FloatValueKind.Single, 1, FloatValueKind.Integer, false, (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.Classify32((uint)a)),
        new("fcvt.s.d", FloatValueKind.Double, 1, FloatValueKind.Single, true, (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.F64ToF32(a, rm, ref f)),
        new("fcvt.d.s", FloatValueKind.Single, 1, FloatValueKind.Double, false, (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.F32ToF64((uint)a, ref f)),
        ToInt("fcvt.w.d", FloatValueKind.Double, (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.F64ToI32(a, rm, ref f)),
        ToInt("fcvt.wu.d", FloatValueKind.Double, (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.F64ToU32(a, rm, ref f)),
        ToInt("fcvt.l.d", FloatValueKind.Double, (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.F64ToI64(a, rm, ref f)),
        ToInt("fcvt.lu.d", FloatValueKind.Double, (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.F64ToU64(a, rm, ref f)),
        ToInt("fcvt.w.s", FloatValueKind.Single, (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.F32ToI32((uint)a, rm, ref f)),
        ToInt("fcvt.wu.s", FloatValueKind.Single, (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.F32ToU32((uint)a, rm, ref f)),
        ToInt("fcvt.l.s", FloatValueKind.Single, (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.F32ToI64((uint)a, rm, ref f)),
        ToInt("fcvt.lu.s", FloatValueKind.Single, (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.F32ToU64((uint)a, rm, ref f)),
        new("fcvt.d.l", FloatValueKind.Int64, 1, FloatValueKind.Double, true, (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.I64ToF64(a, rm, ref f)),
        new("fcvt.d.lu", FloatValueKind.Int64, 1, FloatValueKind.Double, true, (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.U64ToF64(a, rm, ref f)),
        new("fcvt.d.w", FloatValueKind.Int32, 1, FloatValueKind.Double, false, (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.I32ToF64((uint)a)),
        new("fcvt.d.wu", FloatValueKind.Int32, 1, FloatValueKind.Double, false, (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.U32ToF64((uint)a)),
        new("fcvt.s.w", FloatValueKind.Int32, 1, FloatValueKind.Single, true, (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.I32ToF32((uint)a, rm, ref f)),
        new("fcvt.s.wu", FloatValueKind.Int32, 1, FloatValueKind.Single, true, (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.U32ToF32((uint)a, rm, ref f)),
        new("fcvt.s.l", FloatValueKind.Int64, 1, FloatValueKind.Single, true, (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.I64ToF32(a, rm, ref f)),
        new("fcvt.s.lu", FloatValueKind.Int64, 1, FloatValueKind.Single, true, (ulong a, ulong b, ulong c, int rm, ref uint f) => SoftFloat.U64ToF32(a, rm, ref f)),
    ];

    private delegate bool Comparison(ulong a, ulong b, ref uint flags);

    private static FloatOperation D2(string name, Compute run) => new(name, FloatValueKind.Double, 2, FloatValueKind.Double, true, run);

    private static FloatOperation D3(string name, Compute run) => new(name, FloatValueKind.Double, 3, FloatValueKind.Double, true, run);

    private static FloatOperation S2(string name, Compute run) => new(name, FloatValueKind.Single, 2, FloatValueKind.Single, true, run);

    private static FloatOperation S3(string name, Compute run) => new(name, FloatValueKind.Single, 3, FloatValueKind.Single, true, run);

    private static FloatOperation ToInt(string name, FloatValueKind operands, Compute run) => new(name, operands, 1, FloatValueKind.Integer, true, run);

    private static FloatOperation Cmp(string name, FloatValueKind operands, Comparison compare)
        => new(name, operands, 2, FloatValueKind.Integer, false, (ulong a, ulong b, ulong c, int rm, ref uint f) => compare(a, b, ref f) ? 1UL : 0UL);
}
