using Backup.Hypervisor.Cpu.Float;
using Backup.Hypervisor.Mmu;

namespace Backup.Hypervisor.Cpu;

/// <summary>
/// The F and D extensions: 32 floating-point registers of 64 bits (singles NaN-boxed), fcsr (fflags, frm), and
/// mstatus.FS (Off makes every FP instruction and fcsr access illegal; any change to FP state sets Dirty and SD).
/// Arithmetic is <see cref="SoftFloat"/>'s: every rounding mode and flag exact, RISC-V NaN rules.
/// </summary>
public sealed unsafe partial class Hart
{
    private readonly ulong[] _fArray = GC.AllocateArray<ulong>(32, pinned: true);
    internal ulong* _f; // translated blocks load and store FP registers here
    internal uint _fflags, _frm;

    /// <summary>Raw 64-bit contents of FP register <paramref name="index"/> (singles appear NaN-boxed).</summary>
    public ulong GetFloatRegister(int index) => _f[index & 31];

    /// <summary>fcsr: frm in bits 7:5, fflags in bits 4:0.</summary>
    public uint FloatControl => (_frm << 5) | _fflags;

    private bool FloatOff => (_mstatus & MstatusBits.FS) == 0;

    private void MarkFloatDirty() => _mstatus |= MstatusBits.FS | MstatusBits.SD;

    /// <summary>Writes a raw register value (singles already NaN-boxed) and marks the FP state dirty.</summary>
    private void WriteFloat(uint r, ulong value)
    {
        _f[r] = value;
        MarkFloatDirty();
    }

    /// <summary>ORs <paramref name="flags"/> into fflags; new bits make the FP state dirty. Also called by translated code.</summary>
    internal void Accrue(uint flags)
    {
        if ((flags & ~_fflags) != 0)
        {
            _fflags |= flags;
            MarkFloatDirty();
        }
    }

    /// <summary>The effective rounding mode of an instruction's rm field; -1 for a reserved one (illegal).</summary>
    private int RoundingMode(uint inst)
    {
        uint rm = (inst >> 12) & 7;
        if (rm == FloatRounding.Dynamic)
        {
            rm = _frm;
        }

        return rm <= FloatRounding.NearestMaxMagnitude ? (int)rm : -1;
    }

    /// <summary>Executes LOAD-FP, STORE-FP, the fused multiply-adds and OP-FP.</summary>
    private StepResult ExecuteFloat(uint inst)
    {
        FloatForm form = FloatDecoding.Classify(inst);
        if (FloatOff || form == FloatForm.Illegal)
        {
            return StepResult.Illegal;
        }

        if (form is FloatForm.Load or FloatForm.Store)
        {
            return form == FloatForm.Load ? LoadFloat(inst) : StoreFloat(inst);
        }

        int rm = 0;
        if (FloatDecoding.HasRoundingMode(form) && (rm = RoundingMode(inst)) < 0)
        {
            return StepResult.Illegal;
        }

        uint rd = (inst >> 7) & 31;
        ulong a = _f[(inst >> 15) & 31], b = _f[(inst >> 20) & 31];
        uint flags = _fflags; // flags already raised let the fast paths skip their exactness checks
        switch (form)
        {
            case FloatForm.MulAdd: WriteFloat(rd, FloatKernels.MulAdd(inst, a, b, _f[inst >> 27], rm, ref flags)); break;
            case FloatForm.Arithmetic: WriteFloat(rd, FloatKernels.Arithmetic(inst, a, b, rm, ref flags)); break;
            case FloatForm.SquareRoot: WriteFloat(rd, FloatKernels.SquareRoot(inst, a, rm, ref flags)); break;
            case FloatForm.SignInject: WriteFloat(rd, FloatKernels.SignInject(inst, a, b)); break;
            case FloatForm.MinMax: WriteFloat(rd, FloatKernels.MinMax(inst, a, b, ref flags)); break;
            case FloatForm.ConvertPrecision: WriteFloat(rd, FloatKernels.ConvertPrecision(inst, a, rm, ref flags)); break;
            case FloatForm.FromInteger: WriteFloat(rd, FloatKernels.FromInteger(inst, _x[(inst >> 15) & 31], rm, ref flags)); break;
            case FloatForm.MoveFromInteger: WriteFloat(rd, FloatKernels.MoveFromInteger(inst, _x[(inst >> 15) & 31])); break;
            case FloatForm.Compare: _x[rd] = FloatKernels.Compare(inst, a, b, ref flags); break;
            case FloatForm.ToInteger: _x[rd] = FloatKernels.ToInteger(inst, a, rm, ref flags); break;
            default: _x[rd] = FloatKernels.MoveOrClassify(inst, a); break;
        }

        Accrue(flags);
        return StepResult.Next;
    }

    private StepResult LoadFloat(uint inst)
    {
        uint f3 = (inst >> 12) & 7; // 2 (FLW) or 3 (FLD): checked by FloatDecoding
        ulong va = _x[(inst >> 15) & 31] + (ulong)(long)((int)inst >> 20);
        ulong v;
        TlbEntry* e = _readTlb + (int)((va >> 12) & TlbMask);
        if (e->Tag == (va >> 12) && (va & 0xFFF) <= 0xFF8)
        {
            byte* p = (byte*)(e->Addend + (long)va);
            v = f3 == 2 ? *(uint*)p : *(ulong*)p;
        }
        else if (!LoadSlow(va, f3 == 2 ? 6u : 3u, out v))
        {
            return StepResult.Trap;
        }

        WriteFloat((inst >> 7) & 31, f3 == 2 ? FloatKernels.Box((uint)v) : v);
        return StepResult.Next;
    }

    private StepResult StoreFloat(uint inst)
    {
        uint f3 = (inst >> 12) & 7; // 2 (FSW) or 3 (FSD)
        ulong va = _x[(inst >> 15) & 31] + (ulong)(((long)(int)(inst & 0xFE000000) >> 20) | ((inst >> 7) & 31));
        ulong v = _f[(inst >> 20) & 31]; // FSW stores the low 32 bits as they are, boxed or not
        int size = f3 == 2 ? 4 : 8;
        TlbEntry* e = _writeTlb + (int)((va >> 12) & TlbMask);
        if (e->Tag == (va >> 12) && (va & 0xFFF) <= 0xFF8)
        {
            byte* p = (byte*)(e->Addend + (long)va);
            if (size == 4)
            {
                *(uint*)p = (uint)v;
            }
            else
            {
                *(ulong*)p = v;
            }
        }
        else if (!StoreSlow(va, size, v))
        {
            return StepResult.Trap;
        }

        return StepResult.Next;
    }
}
