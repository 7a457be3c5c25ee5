namespace Backup.Hypervisor.Cpu;

/// <summary>
/// The static legality of F/D encodings (LOAD-FP, STORE-FP, the fused multiply-adds, OP-FP), shared by the
/// interpreter and the translator so that both refuse exactly the same encodings. What the encoding cannot tell is
/// checked when the instruction runs: mstatus.FS Off, and a dynamic rounding mode whose frm is reserved.
/// </summary>
internal static class FloatDecoding
{
    public static FloatForm Classify(uint inst)
    {
        uint f3 = (inst >> 12) & 7;
        switch (inst & 0x7F)
        {
            case 0x07: return f3 is 2 or 3 ? FloatForm.Load : FloatForm.Illegal;
            case 0x27: return f3 is 2 or 3 ? FloatForm.Store : FloatForm.Illegal;
            case 0x43 or 0x47 or 0x4B or 0x4F: return ((inst >> 25) & 3) <= 1 ? WithRoundingMode(FloatForm.MulAdd, f3) : FloatForm.Illegal;
            case 0x53: return ClassifyOp(inst, f3);
            default: return FloatForm.Illegal;
        }
    }

    /// <summary>True for the forms with an rm field (5 and 6 reserved, 7 = frm).</summary>
    public static bool HasRoundingMode(FloatForm form) =>
        form is FloatForm.MulAdd or FloatForm.Arithmetic or FloatForm.SquareRoot or FloatForm.ConvertPrecision or FloatForm.ToInteger or FloatForm.FromInteger;

    /// <summary>True for the forms whose destination is an integer register.</summary>
    public static bool WritesInteger(FloatForm form) => form is FloatForm.Compare or FloatForm.ToInteger or FloatForm.MoveOrClassify;

    private static FloatForm ClassifyOp(uint inst, uint f3)
    {
        uint fmt = (inst >> 25) & 3;
        if (fmt > 1)
        {
            return FloatForm.Illegal; // H and Q are not implemented
        }

        uint rs2 = (inst >> 20) & 31;
        return (inst >> 27) switch
        {
            0x00 or 0x01 or 0x02 or 0x03 => WithRoundingMode(FloatForm.Arithmetic, f3),
            0x0B when rs2 == 0 => WithRoundingMode(FloatForm.SquareRoot, f3),
            0x04 when f3 <= 2 => FloatForm.SignInject,
            0x05 when f3 <= 1 => FloatForm.MinMax,
            0x08 when rs2 == (fmt == 0 ? 1u : 0u) => WithRoundingMode(FloatForm.ConvertPrecision, f3),
            0x14 when f3 <= 2 => FloatForm.Compare,
            0x18 when rs2 <= 3 => WithRoundingMode(FloatForm.ToInteger, f3),
            0x1A when rs2 <= 3 => WithRoundingMode(FloatForm.FromInteger, f3),
            0x1C when rs2 == 0 && f3 <= 1 => FloatForm.MoveOrClassify,
            0x1E when rs2 == 0 && f3 == 0 => FloatForm.MoveFromInteger,
            _ => FloatForm.Illegal,
        };
    }

    private static FloatForm WithRoundingMode(FloatForm form, uint rm) => rm is 5 or 6 ? FloatForm.Illegal : form;
}
