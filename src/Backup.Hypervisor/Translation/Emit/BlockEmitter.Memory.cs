using System.Reflection.Emit;
using Backup.Hypervisor.Translation.Decode;

namespace Backup.Hypervisor.Translation.Emit;

/// <summary>Integer loads and stores in compiled code: an inline probe of the hart's software TLB, the interpreter on a miss.</summary>
internal static unsafe partial class BlockEmitter
{
    private sealed partial class Builder
    {
        private void EmitLoad(int i, DecodedInstruction d)
        {
            var slow = il.DefineLabel();
            EmitAddressAndProbe(d.Rs1, d.ImmI, 1 << (int)(d.Funct3 & 3), _readTlb!, slow);

            EmitHostPointer();
            switch (d.Funct3)
            {
                case 0: il.Emit(OpCodes.Ldind_I1); il.Emit(OpCodes.Conv_I8); break;
                case 1: il.Emit(OpCodes.Ldind_I2); il.Emit(OpCodes.Conv_I8); break;
                case 2: il.Emit(OpCodes.Ldind_I4); il.Emit(OpCodes.Conv_I8); break;
                case 3: il.Emit(OpCodes.Ldind_I8); break;
                case 4: il.Emit(OpCodes.Ldind_U1); il.Emit(OpCodes.Conv_U8); break;
                case 5: il.Emit(OpCodes.Ldind_U2); il.Emit(OpCodes.Conv_U8); break;
                default: il.Emit(OpCodes.Ldind_U4); il.Emit(OpCodes.Conv_U8); break;
            }

            StoreRegOrPop(d.Rd);

            LeaveToInterpreter(slow, i, d);
        }

        private void EmitStore(int i, DecodedInstruction d)
        {
            int size = 1 << (int)d.Funct3;
            var slow = il.DefineLabel();
            EmitAddressAndProbe(d.Rs1, d.ImmS, size, _writeTlb!, slow);

            EmitHostPointer();
            LoadReg(d.Rs2);
            switch (size)
            {
                case 1: il.Emit(OpCodes.Conv_U1); il.Emit(OpCodes.Stind_I1); break;
                case 2: il.Emit(OpCodes.Conv_U2); il.Emit(OpCodes.Stind_I2); break;
                case 4: il.Emit(OpCodes.Conv_U4); il.Emit(OpCodes.Stind_I4); break;
                default: il.Emit(OpCodes.Stind_I8); break;
            }


            LeaveToInterpreter(slow, i, d);
        }

        /// <summary>Fast path after a TLB hit: pushes the host pointer, the entry's addend (at offset 8) plus the virtual address.</summary>
        private void EmitHostPointer()
        {
            il.Emit(OpCodes.Ldloc, _entry);
            il.Emit(OpCodes.Ldc_I4_8);
            il.Emit(OpCodes.Add);
            il.Emit(OpCodes.Ldind_I8);
            il.Emit(OpCodes.Ldloc, _va);
            il.Emit(OpCodes.Add);
            il.Emit(OpCodes.Conv_U);
        }

        /// <summary>va = rs1 + imm; entry = the TLB slot for va; branches to <paramref name="slow"/> unless it hits for a within-page access.</summary>
        private void EmitAddressAndProbe(int rs1, long imm, int size, LocalBuilder tlb, Label slow)
        {
            LoadReg(rs1);
            if (imm != 0)
            {
                il.Emit(OpCodes.Ldc_I8, imm);
                il.Emit(OpCodes.Add);
            }

            il.Emit(OpCodes.Stloc, _va);

            il.Emit(OpCodes.Ldloc, tlb);
            il.Emit(OpCodes.Ldloc, _va);
            il.Emit(OpCodes.Ldc_I4_8);
            il.Emit(OpCodes.Shr_Un);
            il.Emit(OpCodes.Ldc_I8, TlbIndexMask);
            il.Emit(OpCodes.And);
            il.Emit(OpCodes.Conv_U);
            il.Emit(OpCodes.Add);
            il.Emit(OpCodes.Stloc, _entry);

            il.Emit(OpCodes.Ldloc, _entry);
            il.Emit(OpCodes.Ldind_I8);
            il.Emit(OpCodes.Ldloc, _va);
            il.Emit(OpCodes.Ldc_I4, 12);
            il.Emit(OpCodes.Shr_Un);
            il.Emit(OpCodes.Bne_Un, slow);

            // The access must lie within the page (a byte always does). A hit means the page is mapped for this
            // access, so the result is the interpreter's (its slow path would find the same entry; a write entry
            // exists only for a page already reported written in this dirty generation and not holding code).
            if (size > 1)
            {
                il.Emit(OpCodes.Ldloc, _va);
                il.Emit(OpCodes.Ldc_I8, 0xFFFL);
                il.Emit(OpCodes.And);
                il.Emit(OpCodes.Ldc_I8, 0x1000L - size);
                il.Emit(OpCodes.Bgt_Un, slow);
            }
        }
    }
}
