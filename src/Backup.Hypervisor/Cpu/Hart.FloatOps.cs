using Backup.Hypervisor.Cpu.Float;

namespace Backup.Hypervisor.Cpu;

/// <summary>OP-FP (opcode 0x53) for single (fmt 0) and double (fmt 1) precision.</summary>
public sealed unsafe partial class Hart
{
    private StepResult ExecuteFloatOp(uint inst)
    {
        uint fmt = (inst >> 25) & 3;
        if (fmt > 1)
        {
            return StepResult.Illegal; // H and Q are not implemented
        }

        uint funct5 = inst >> 27;
        uint f3 = (inst >> 12) & 7;
        uint rd = (inst >> 7) & 31, rs1 = (inst >> 15) & 31, rs2 = (inst >> 20) & 31;
        bool single = fmt == 0;
        uint flags = 0;
        switch (funct5)
        {
            case 0x00 or 0x01 or 0x02 or 0x03:
                return Arithmetic(inst, funct5, single, rd, rs1, rs2);
            case 0x0B: // FSQRT
            {
                int rm = RoundingMode(inst);
                if (rs2 != 0 || rm < 0)
                {
                    return StepResult.Illegal;
                }

                if (single)
                {
                    WriteF32(rd, SoftFloat.Sqrt32(ReadF32(rs1), rm, ref flags));
                }
                else
                {
                    WriteF64(rd, SoftFloat.Sqrt64(_f[rs1], rm, ref flags));
                }

                break;
            }

            case 0x04: // FSGNJ, FSGNJN, FSGNJX
                return SignInject(f3, single, rd, rs1, rs2);
            case 0x05: // FMIN, FMAX
                if (f3 > 1)
                {
                    return StepResult.Illegal;
                }

                if (single)
                {
                    uint a = ReadF32(rs1), b = ReadF32(rs2);
                    WriteF32(rd, f3 == 0 ? SoftFloat.Min32(a, b, ref flags) : SoftFloat.Max32(a, b, ref flags));
                }
                else
                {
                    ulong a = _f[rs1], b = _f[rs2];
                    WriteF64(rd, f3 == 0 ? SoftFloat.Min64(a, b, ref flags) : SoftFloat.Max64(a, b, ref flags));
                }

                break;
            case 0x08: // FCVT.S.D (fmt S, rs2 1), FCVT.D.S (fmt D, rs2 0)
            {
                int rm = RoundingMode(inst);
                if (rm < 0 || rs2 != (single ? 1u : 0u))
                {
                    return StepResult.Illegal;
                }

                if (single)
                {
                    WriteF32(rd, SoftFloat.F64ToF32(_f[rs1], rm, ref flags));
                }
                else
                {
                    WriteF64(rd, SoftFloat.F32ToF64(ReadF32(rs1), ref flags));
                }

                break;
            }

            case 0x14: // FLE, FLT, FEQ
            {
                bool result;
                if (single)
                {
                    uint a = ReadF32(rs1), b = ReadF32(rs2);
                    switch (f3)
                    {
                        case 0: result = SoftFloat.Le32(a, b, ref flags); break;
                        case 1: result = SoftFloat.Lt32(a, b, ref flags); break;
                        case 2: result = SoftFloat.Eq32(a, b, ref flags); break;
                        default: return StepResult.Illegal;
                    }
                }
                else
                {
                    ulong a = _f[rs1], b = _f[rs2];
                    switch (f3)
                    {
                        case 0: result = SoftFloat.Le64(a, b, ref flags); break;
                        case 1: result = SoftFloat.Lt64(a, b, ref flags); break;
                        case 2: result = SoftFloat.Eq64(a, b, ref flags); break;
                        default: return StepResult.Illegal;
                    }
                }

                _x[rd] = result ? 1UL : 0UL;
                break;
            }

            case 0x18: // FCVT.{W,WU,L,LU}.fmt
                return ConvertToInteger(inst, single, rd, rs1, rs2);
            case 0x1A: // FCVT.fmt.{W,WU,L,LU}
                return ConvertFromInteger(inst, single, rd, rs1, rs2);
            case 0x1C: // FMV.X.W / FMV.X.D (f3 0), FCLASS (f3 1)
                if (rs2 != 0 || f3 > 1)
                {
                    return StepResult.Illegal;
                }

                if (f3 == 0)
                {
                    _x[rd] = single ? (ulong)(long)(int)(uint)_f[rs1] : _f[rs1];
                }
                else
                {
                    _x[rd] = single ? SoftFloat.Classify32(ReadF32(rs1)) : SoftFloat.Classify64(_f[rs1]);
                }

                return StepResult.Next;
            case 0x1E: // FMV.W.X / FMV.D.X
                if (rs2 != 0 || f3 != 0)
                {
                    return StepResult.Illegal;
                }

                if (single)
                {
                    WriteF32(rd, (uint)_x[rs1]);
                }
                else
                {
                    WriteF64(rd, _x[rs1]);
                }

                return StepResult.Next;
            default:
                return StepResult.Illegal;
        }

        Accrue(flags);
        return StepResult.Next;
    }

    private StepResult Arithmetic(uint inst, uint funct5, bool single, uint rd, uint rs1, uint rs2)
    {
        int rm = RoundingMode(inst);
        if (rm < 0)
        {
            return StepResult.Illegal;
        }

        uint flags = 0;
        if (single)
        {
            uint a = ReadF32(rs1), b = ReadF32(rs2);
            uint r = funct5 switch
            {
                0 => SoftFloat.Add32(a, b, rm, ref flags),
                1 => SoftFloat.Sub32(a, b, rm, ref flags),
                2 => SoftFloat.Mul32(a, b, rm, ref flags),
                _ => SoftFloat.Div32(a, b, rm, ref flags),
            };
            WriteF32(rd, r);
        }
        else
        {
            ulong a = _f[rs1], b = _f[rs2];
            ulong r = funct5 switch
            {
                0 => SoftFloat.Add64(a, b, rm, ref flags),
                1 => SoftFloat.Sub64(a, b, rm, ref flags),
                2 => SoftFloat.Mul64(a, b, rm, ref flags),
                _ => SoftFloat.Div64(a, b, rm, ref flags),
            };
            WriteF64(rd, r);
        }

        Accrue(flags);
        return StepResult.Next;
    }

    private StepResult SignInject(uint f3, bool single, uint rd, uint rs1, uint rs2)
    {
        if (f3 > 2)
        {
            return StepResult.Illegal;
        }

        if (single)
        {
            uint a = ReadF32(rs1), b = ReadF32(rs2);
            uint sign = f3 switch { 0 => b, 1 => ~b, _ => a ^ b } & Sign32;
            WriteF32(rd, (a & ~Sign32) | sign);
        }
        else
        {
            ulong a = _f[rs1], b = _f[rs2];
            ulong sign = f3 switch { 0 => b, 1 => ~b, _ => a ^ b } & Sign64;
            WriteF64(rd, (a & ~Sign64) | sign);
        }

        return StepResult.Next;
    }

    private StepResult ConvertToInteger(uint inst, bool single, uint rd, uint rs1, uint rs2)
    {
        int rm = RoundingMode(inst);
        if (rm < 0 || rs2 > 3)
        {
            return StepResult.Illegal;
        }

        uint flags = 0;
        ulong result;
        if (single)
        {
            uint a = ReadF32(rs1);
            result = rs2 switch
            {
                0 => SoftFloat.F32ToI32(a, rm, ref flags),
                1 => SoftFloat.F32ToU32(a, rm, ref flags),
                2 => SoftFloat.F32ToI64(a, rm, ref flags),
                _ => SoftFloat.F32ToU64(a, rm, ref flags),
            };
        }
        else
        {
            ulong a = _f[rs1];
            result = rs2 switch
            {
                0 => SoftFloat.F64ToI32(a, rm, ref flags),
                1 => SoftFloat.F64ToU32(a, rm, ref flags),
                2 => SoftFloat.F64ToI64(a, rm, ref flags),
                _ => SoftFloat.F64ToU64(a, rm, ref flags),
            };
        }

        _x[rd] = result;
        Accrue(flags);
        return StepResult.Next;
    }

    private StepResult ConvertFromInteger(uint inst, bool single, uint rd, uint rs1, uint rs2)
    {
        int rm = RoundingMode(inst);
        if (rm < 0 || rs2 > 3)
        {
            return StepResult.Illegal;
        }

        uint flags = 0;
        ulong v = _x[rs1];
        if (single)
        {
            WriteF32(rd, rs2 switch
            {
                0 => SoftFloat.I32ToF32((uint)v, rm, ref flags),
                1 => SoftFloat.U32ToF32((uint)v, rm, ref flags),
                2 => SoftFloat.I64ToF32(v, rm, ref flags),
                _ => SoftFloat.U64ToF32(v, rm, ref flags),
            });
        }
        else
        {
            WriteF64(rd, rs2 switch
            {
                0 => SoftFloat.I32ToF64((uint)v),
                1 => SoftFloat.U32ToF64((uint)v),
                2 => SoftFloat.I64ToF64(v, rm, ref flags),
                _ => SoftFloat.U64ToF64(v, rm, ref flags),
            });
        }

        Accrue(flags);
        return StepResult.Next;
    }
}
