using Backup.Hypervisor.Cpu.Float;

namespace Backup.Hypervisor.Cpu;

/// <summary>
/// The F/D operations on raw 64-bit register values, shared by the interpreter and translated code: singles are
/// unboxed on the way in (a value that is not NaN-boxed reads as the canonical NaN) and boxed on the way out. Each
/// takes the instruction word for the bits that select the variant (fmt, funct5, funct3, rs2); the encoding has
/// been checked by <see cref="FloatDecoding.Classify"/> and the rounding mode resolved by the caller.
/// </summary>
internal static class FloatKernels
{
    public const ulong NanBox = 0xFFFF_FFFF_0000_0000;
    public const ulong Sign64 = 1UL << 63;
    public const uint Sign32 = 1U << 31;

    public static uint Unbox(ulong v) => (v & NanBox) == NanBox ? (uint)v : SoftFloat.CanonicalNaN32;

    public static ulong Box(uint v) => NanBox | v;

    private static bool Single(uint inst) => ((inst >> 25) & 3) == 0;

    public static ulong Add32(ulong a, ulong b, int rm, ref uint flags) => Box(SoftFloat.Add32(Unbox(a), Unbox(b), rm, ref flags));

    public static ulong Sub32(ulong a, ulong b, int rm, ref uint flags) => Box(SoftFloat.Sub32(Unbox(a), Unbox(b), rm, ref flags));

    public static ulong Mul32(ulong a, ulong b, int rm, ref uint flags) => Box(SoftFloat.Mul32(Unbox(a), Unbox(b), rm, ref flags));

    public static ulong Div32(ulong a, ulong b, int rm, ref uint flags) => Box(SoftFloat.Div32(Unbox(a), Unbox(b), rm, ref flags));

    /// <summary>FADD, FSUB, FMUL, FDIV (funct5 0-3).</summary>
    public static ulong Arithmetic(uint inst, ulong a, ulong b, int rm, ref uint flags)
    {
        bool single = Single(inst);
        return (inst >> 27) switch
        {
            0 => single ? Add32(a, b, rm, ref flags) : SoftFloat.Add64(a, b, rm, ref flags),
            1 => single ? Sub32(a, b, rm, ref flags) : SoftFloat.Sub64(a, b, rm, ref flags),
            2 => single ? Mul32(a, b, rm, ref flags) : SoftFloat.Mul64(a, b, rm, ref flags),
            _ => single ? Div32(a, b, rm, ref flags) : SoftFloat.Div64(a, b, rm, ref flags),
        };
    }

    public static ulong SquareRoot(uint inst, ulong a, int rm, ref uint flags) =>
        Single(inst) ? Box(SoftFloat.Sqrt32(Unbox(a), rm, ref flags)) : SoftFloat.Sqrt64(a, rm, ref flags);

    /// <summary>FMADD, FMSUB, FNMSUB, FNMADD: sign flips of the product and the addend around one fused operation.</summary>
    public static ulong MulAdd(uint inst, ulong a, ulong b, ulong c, int rm, ref uint flags)
    {
        uint op = (inst >> 2) & 3; // 0 FMADD, 1 FMSUB, 2 FNMSUB, 3 FNMADD
        bool negateProduct = op >= 2, negateAddend = op is 1 or 3;
        if (Single(inst))
        {
            uint sa = Unbox(a) ^ (negateProduct ? Sign32 : 0), sc = Unbox(c) ^ (negateAddend ? Sign32 : 0);
            return Box(SoftFloat.MulAdd32(sa, Unbox(b), sc, rm, ref flags));
        }

        return SoftFloat.MulAdd64(a ^ (negateProduct ? Sign64 : 0), b, c ^ (negateAddend ? Sign64 : 0), rm, ref flags);
    }

    /// <summary>FSGNJ, FSGNJN, FSGNJX (funct3 0-2).</summary>
    public static ulong SignInject(uint inst, ulong a, ulong b)
    {
        uint f3 = (inst >> 12) & 7;
        if (Single(inst))
        {
            uint x = Unbox(a), y = Unbox(b);
            uint sign = (f3 switch { 0 => y, 1 => ~y, _ => x ^ y }) & Sign32;
            return Box((x & ~Sign32) | sign);
        }

        ulong s = (f3 switch { 0 => b, 1 => ~b, _ => a ^ b }) & Sign64;
        return (a & ~Sign64) | s;
    }

    /// <summary>FMIN (funct3 0), FMAX (funct3 1).</summary>
    public static ulong MinMax(uint inst, ulong a, ulong b, ref uint flags)
    {
        bool min = ((inst >> 12) & 7) == 0;
        if (Single(inst))
        {
            uint x = Unbox(a), y = Unbox(b);
            return Box(min ? SoftFloat.Min32(x, y, ref flags) : SoftFloat.Max32(x, y, ref flags));
        }

        return min ? SoftFloat.Min64(a, b, ref flags) : SoftFloat.Max64(a, b, ref flags);
    }

    /// <summary>FCVT.S.D (fmt S) and FCVT.D.S (fmt D).</summary>
    public static ulong ConvertPrecision(uint inst, ulong a, int rm, ref uint flags) =>
        Single(inst) ? Box(SoftFloat.F64ToF32(a, rm, ref flags)) : SoftFloat.F32ToF64(Unbox(a), ref flags);

    /// <summary>FLE (funct3 0), FLT (1), FEQ (2): 1 or 0 for the integer register.</summary>
    public static ulong Compare(uint inst, ulong a, ulong b, ref uint flags)
    {
        uint f3 = (inst >> 12) & 7;
        bool result;
        if (Single(inst))
        {
            uint x = Unbox(a), y = Unbox(b);
            result = f3 switch
            {
                0 => SoftFloat.Le32(x, y, ref flags),
                1 => SoftFloat.Lt32(x, y, ref flags),
                _ => SoftFloat.Eq32(x, y, ref flags),
            };
        }
        else
        {
            result = f3 switch
            {
                0 => SoftFloat.Le64(a, b, ref flags),
                1 => SoftFloat.Lt64(a, b, ref flags),
                _ => SoftFloat.Eq64(a, b, ref flags),
            };
        }

        return result ? 1UL : 0UL;
    }

    /// <summary>FCVT.{W,WU,L,LU}.fmt (rs2 0-3).</summary>
    public static ulong ToInteger(uint inst, ulong a, int rm, ref uint flags)
    {
        uint kind = (inst >> 20) & 31;
        if (Single(inst))
        {
            uint x = Unbox(a);
            return kind switch
            {
                0 => SoftFloat.F32ToI32(x, rm, ref flags),
                1 => SoftFloat.F32ToU32(x, rm, ref flags),
                2 => SoftFloat.F32ToI64(x, rm, ref flags),
                _ => SoftFloat.F32ToU64(x, rm, ref flags),
            };
        }

        return kind switch
        {
            0 => SoftFloat.F64ToI32(a, rm, ref flags),
            1 => SoftFloat.F64ToU32(a, rm, ref flags),
            2 => SoftFloat.F64ToI64(a, rm, ref flags),
            _ => SoftFloat.F64ToU64(a, rm, ref flags),
        };
    }

    /// <summary>FCVT.fmt.{W,WU,L,LU} (rs2 0-3) from integer register value <paramref name="v"/>.</summary>
    public static ulong FromInteger(uint inst, ulong v, int rm, ref uint flags)
    {
        uint kind = (inst >> 20) & 31;
        if (Single(inst))
        {
            return Box(kind switch
            {
                0 => SoftFloat.I32ToF32((uint)v, rm, ref flags),
                1 => SoftFloat.U32ToF32((uint)v, rm, ref flags),
                2 => SoftFloat.I64ToF32(v, rm, ref flags),
                _ => SoftFloat.U64ToF32(v, rm, ref flags),
            });
        }

        return kind switch
        {
            0 => SoftFloat.I32ToF64((uint)v),
            1 => SoftFloat.U32ToF64((uint)v),
            2 => SoftFloat.I64ToF64(v, rm, ref flags),
            _ => SoftFloat.U64ToF64(v, rm, ref flags),
        };
    }

    /// <summary>FMV.X.W / FMV.X.D (funct3 0: the raw bits, a single's sign-extended) and FCLASS (funct3 1).</summary>
    public static ulong MoveOrClassify(uint inst, ulong a)
    {
        bool single = Single(inst);
        if (((inst >> 12) & 7) == 0)
        {
            return single ? (ulong)(long)(int)(uint)a : a;
        }

        return single ? SoftFloat.Classify32(Unbox(a)) : SoftFloat.Classify64(a);
    }

    /// <summary>FMV.W.X (boxes the low 32 bits) and FMV.D.X.</summary>
    public static ulong MoveFromInteger(uint inst, ulong v) => Single(inst) ? Box((uint)v) : v;
}
