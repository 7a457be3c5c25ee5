using System.Reflection.Emit;
using Backup.Hypervisor.Translation.Decode;

namespace Backup.Hypervisor.Translation.Emit;

/// <summary>RV64I/M register-register and register-immediate arithmetic (and the word forms) in compiled code.</summary>
internal static unsafe partial class BlockEmitter
{
    private sealed partial class Builder
    {
        private void EmitOpImm(DecodedInstruction d)
        {
            if (d.Rd == 0)
            {
                return; // no side effects
            }

            LoadReg(d.Rs1);
            switch (d.Funct3)
            {
                case 0: il.Emit(OpCodes.Ldc_I8, d.ImmI); il.Emit(OpCodes.Add); break;
                case 1: il.Emit(OpCodes.Ldc_I4, (int)(d.ImmI & 63)); il.Emit(OpCodes.Shl); break;
                case 2: il.Emit(OpCodes.Ldc_I8, d.ImmI); il.Emit(OpCodes.Clt); il.Emit(OpCodes.Conv_U8); break;
                case 3: il.Emit(OpCodes.Ldc_I8, d.ImmI); il.Emit(OpCodes.Clt_Un); il.Emit(OpCodes.Conv_U8); break;
                case 4: il.Emit(OpCodes.Ldc_I8, d.ImmI); il.Emit(OpCodes.Xor); break;
                case 5:
                    il.Emit(OpCodes.Ldc_I4, (int)(d.ImmI & 63));
                    il.Emit((d.Inst >> 26) == 0 ? OpCodes.Shr_Un : OpCodes.Shr);
                    break;
                case 6: il.Emit(OpCodes.Ldc_I8, d.ImmI); il.Emit(OpCodes.Or); break;
                default: il.Emit(OpCodes.Ldc_I8, d.ImmI); il.Emit(OpCodes.And); break;
            }

            StoreReg(d.Rd);
        }

        private void EmitOp(DecodedInstruction d)
        {
            if (d.Rd == 0)
            {
                return; // no side effects (divisions by zero do not trap)
            }

            if (d.Funct7 == 1 && d.Funct3 != 0)
            {
                il.Emit(OpCodes.Ldc_I4, (int)d.Funct3);
                LoadReg(d.Rs1);
                LoadReg(d.Rs2);
                il.Emit(OpCodes.Call, MulDiv);
                StoreReg(d.Rd);
                return;
            }

            LoadReg(d.Rs1);
            LoadReg(d.Rs2);
            if (d.Funct7 == 1)
            {
                il.Emit(OpCodes.Mul);
            }
            else if (d.Funct7 == 0x20)
            {
                if (d.Funct3 == 0)
                {
                    il.Emit(OpCodes.Sub);
                }
                else
                {
                    ShiftAmount(63);
                    il.Emit(OpCodes.Shr);
                }
            }
            else
            {
                switch (d.Funct3)
                {
                    case 0: il.Emit(OpCodes.Add); break;
                    case 1: ShiftAmount(63); il.Emit(OpCodes.Shl); break;
                    case 2: il.Emit(OpCodes.Clt); il.Emit(OpCodes.Conv_U8); break;
                    case 3: il.Emit(OpCodes.Clt_Un); il.Emit(OpCodes.Conv_U8); break;
                    case 4: il.Emit(OpCodes.Xor); break;
                    case 5: ShiftAmount(63); il.Emit(OpCodes.Shr_Un); break;
                    case 6: il.Emit(OpCodes.Or); break;
                    default: il.Emit(OpCodes.And); break;
                }
            }

            StoreReg(d.Rd);
        }

        private void EmitOpImm32(DecodedInstruction d)
        {
            if (d.Rd == 0)
            {
                return;
            }

            LoadReg(d.Rs1);
            switch (d.Funct3)
            {
                case 0:
                    il.Emit(OpCodes.Ldc_I8, d.ImmI);
                    il.Emit(OpCodes.Add);
                    il.Emit(OpCodes.Conv_I4);
                    break;
                case 1:
                    il.Emit(OpCodes.Conv_I4);
                    il.Emit(OpCodes.Ldc_I4, d.Rs2);
                    il.Emit(OpCodes.Shl);
                    break;
                default:
                    bool arithmetic = d.Funct7 == 0x20;
                    il.Emit(arithmetic ? OpCodes.Conv_I4 : OpCodes.Conv_U4);
                    il.Emit(OpCodes.Ldc_I4, d.Rs2);
                    il.Emit(arithmetic ? OpCodes.Shr : OpCodes.Shr_Un);
                    break;
            }

            il.Emit(OpCodes.Conv_I8); // results are sign-extended from bit 31
            StoreReg(d.Rd);
        }

        private void EmitOp32(DecodedInstruction d)
        {
            if (d.Rd == 0)
            {
                return;
            }

            if (d.Funct7 == 1 && d.Funct3 != 0)
            {
                il.Emit(OpCodes.Ldc_I4, (int)d.Funct3);
                LoadReg(d.Rs1);
                il.Emit(OpCodes.Conv_U4);
                LoadReg(d.Rs2);
                il.Emit(OpCodes.Conv_U4);
                il.Emit(OpCodes.Call, MulDivWord);
                StoreReg(d.Rd);
                return;
            }

            bool arithmetic = d.Funct7 == 0x20;
            LoadReg(d.Rs1);
            il.Emit(d.Funct3 == 5 && !arithmetic ? OpCodes.Conv_U4 : OpCodes.Conv_I4);
            LoadReg(d.Rs2);
            il.Emit(OpCodes.Conv_I4);
            switch (d.Funct3)
            {
                case 0:
                    il.Emit(d.Funct7 == 1 ? OpCodes.Mul : arithmetic ? OpCodes.Sub : OpCodes.Add);
                    break;
                case 1:
                    ShiftAmount(31);
                    il.Emit(OpCodes.Shl);
                    break;
                default:
                    ShiftAmount(31);
                    il.Emit(arithmetic ? OpCodes.Shr : OpCodes.Shr_Un);
                    break;
            }

            il.Emit(OpCodes.Conv_I8);
            StoreReg(d.Rd);
        }

        private void ShiftAmount(int mask)
        {
            il.Emit(OpCodes.Conv_I4);
            il.Emit(OpCodes.Ldc_I4, mask);
            il.Emit(OpCodes.And);
        }
    }
}
