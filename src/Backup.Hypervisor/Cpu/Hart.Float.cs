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
    private const ulong NanBox = 0xFFFF_FFFF_0000_0000;
    private const ulong Sign64 = 1UL << 63;
    private const uint Sign32 = 1U << 31;

    private readonly ulong[] _fArray = GC.AllocateArray<ulong>(32, pinned: true);
    private ulong* _f;
    private uint _fflags, _frm;

    /// <summary>Raw 64-bit contents of FP register <paramref name="index"/> (singles appear NaN-boxed).</summary>
    public ulong GetFloatRegister(int index) => _f[index & 31];

    /// <summary>fcsr: frm in bits 7:5, fflags in bits 4:0.</summary>
    public uint FloatControl => (_frm << 5) | _fflags;

    private bool FloatOff => (_mstatus & MstatusBits.FS) == 0;

    private void MarkFloatDirty() => _mstatus |= MstatusBits.FS | MstatusBits.SD;

    private uint ReadF32(uint r)
    {
        ulong v = _f[r];
        return (v & NanBox) == NanBox ? (uint)v : SoftFloat.CanonicalNaN32;
    }

    private void WriteF32(uint r, uint value)
    {
        _f[r] = NanBox | value;
        MarkFloatDirty();
    }

    private void WriteF64(uint r, ulong value)
    {
        _f[r] = value;
        MarkFloatDirty();
    }

    private void Accrue(uint flags)
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
        if (FloatOff)
        {
            return StepResult.Illegal;
        }

        switch (inst & 0x7F)
        {
            case 0x07: return LoadFloat(inst);
            case 0x27: return StoreFloat(inst);
            case 0x53: return ExecuteFloatOp(inst);
            default: return ExecuteFusedMultiplyAdd(inst);
        }
    }

    private StepResult LoadFloat(uint inst)
    {
        uint f3 = (inst >> 12) & 7;
        if (f3 is not (2 or 3))
        {
            return StepResult.Illegal;
        }

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

        uint rd = (inst >> 7) & 31;
        if (f3 == 2)
        {
            WriteF32(rd, (uint)v);
        }
        else
        {
            WriteF64(rd, v);
        }

        return StepResult.Next;
    }

    private StepResult StoreFloat(uint inst)
    {
        uint f3 = (inst >> 12) & 7;
        if (f3 is not (2 or 3))
        {
            return StepResult.Illegal;
        }

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

    /// <summary>FMADD, FMSUB, FNMSUB, FNMADD: the variants are sign flips of the product and the addend.</summary>
    private StepResult ExecuteFusedMultiplyAdd(uint inst)
    {
        uint fmt = (inst >> 25) & 3;
        int rm = RoundingMode(inst);
        if (fmt > 1 || rm < 0)
        {
            return StepResult.Illegal;
        }

        uint op = (inst >> 2) & 3; // 0 FMADD, 1 FMSUB, 2 FNMSUB, 3 FNMADD
        bool negateProduct = op >= 2;
        bool negateAddend = op is 1 or 3;
        uint rd = (inst >> 7) & 31, rs1 = (inst >> 15) & 31, rs2 = (inst >> 20) & 31, rs3 = inst >> 27;
        uint flags = 0;
        if (fmt == 0)
        {
            uint a = ReadF32(rs1), b = ReadF32(rs2), c = ReadF32(rs3);
            a ^= negateProduct ? Sign32 : 0;
            c ^= negateAddend ? Sign32 : 0;
            WriteF32(rd, SoftFloat.MulAdd32(a, b, c, rm, ref flags));
        }
        else
        {
            ulong a = _f[rs1], b = _f[rs2], c = _f[rs3];
            a ^= negateProduct ? Sign64 : 0;
            c ^= negateAddend ? Sign64 : 0;
            WriteF64(rd, SoftFloat.MulAdd64(a, b, c, rm, ref flags));
        }

        Accrue(flags);
        return StepResult.Next;
    }
}
