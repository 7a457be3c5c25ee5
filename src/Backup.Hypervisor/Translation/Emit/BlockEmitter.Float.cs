using System.Reflection;
using System.Reflection.Emit;
using Backup.Hypervisor.Cpu;
using Backup.Hypervisor.Cpu.Float;
using Backup.Hypervisor.Translation.Decode;

namespace Backup.Hypervisor.Translation.Emit;

/// <summary>
/// The F and D instructions in compiled code. FP registers live in IL locals like the integer ones (loaded at entry,
/// written back at the exits); the arithmetic calls the same <see cref="FloatKernels"/> / <see cref="SoftFloat"/> code
/// the interpreter runs, with flags ORed straight into fcsr. A block holding FP instructions checks mstatus.FS once at
/// entry (nothing a block runs can change it): when FS is Off the block exits before its first instruction and the
/// interpreter takes over; an FP instruction with a dynamic rounding mode checks frm, and when frm is reserved (or a
/// load/store misses the TLB) the block exits before it and the interpreter raises the trap, exactly as if nothing
/// had been compiled. FS becomes Dirty at the block's exit when the block wrote an FP register.
/// </summary>
internal static unsafe partial class BlockEmitter
{
    private static readonly FieldInfo FloatRegistersField = HartField(nameof(Hart._f));
    private static readonly FieldInfo MstatusField = HartField(nameof(Hart._mstatus));
    private static readonly FieldInfo FflagsField = HartField(nameof(Hart._fflags));
    private static readonly FieldInfo FrmField = HartField(nameof(Hart._frm));
    private static readonly MethodInfo AccrueMethod = typeof(Hart).GetMethod(nameof(Hart.Accrue), BindingFlags.Instance | BindingFlags.NonPublic)!;
    private const long FsBits = 3L << 13, FsDirtyAndSd = (3L << 13) | long.MinValue;

    private static FieldInfo HartField(string name) => typeof(Hart).GetField(name, BindingFlags.Instance | BindingFlags.NonPublic)!;

    /// <summary>The static kernel <paramref name="name"/> of <paramref name="type"/> (FloatKernels names its generic kernels after their <see cref="FloatForm"/>).</summary>
    private static MethodInfo Kernel(Type type, string name) =>
        type.GetMethod(name, BindingFlags.Static | BindingFlags.Public) ?? throw new MissingMethodException(type.Name, name);

    private sealed partial class Builder
    {
        private readonly LocalBuilder?[] _freg = new LocalBuilder?[32];
        private readonly bool[] _fwritten = new bool[32];
        private LocalBuilder? _fbase, _rm, _flags, _fpDirty;

        /// <summary>The FP registers (bit r) instruction <paramref name="d"/> reads and writes.</summary>
        private static (uint Reads, uint Writes) FloatRegisters(DecodedInstruction d)
        {
            if (d.Opcode is not (0x07 or 0x27 or 0x43 or 0x47 or 0x4B or 0x4F or 0x53))
            {
                return (0, 0);
            }

            uint rs1 = 1u << d.Rs1, rs2 = 1u << d.Rs2, rd = 1u << d.Rd;
            return FloatDecoding.Classify(d.Inst) switch
            {
                FloatForm.Load => (0, rd),
                FloatForm.Store => (rs2, 0),
                FloatForm.MulAdd => (rs1 | rs2 | (1u << (int)(d.Inst >> 27)), rd),
                FloatForm.Arithmetic or FloatForm.SignInject or FloatForm.MinMax => (rs1 | rs2, rd),
                FloatForm.SquareRoot or FloatForm.ConvertPrecision => (rs1, rd),
                FloatForm.Compare => (rs1 | rs2, 0),
                FloatForm.ToInteger or FloatForm.MoveOrClassify => (rs1, 0),
                FloatForm.FromInteger or FloatForm.MoveFromInteger => (0, rd),
                _ => (0, 0),
            };
        }

        /// <summary>Declares and loads (at block entry) a local for every FP register <paramref name="d"/> touches.</summary>
        private void DeclareFloatRegisters(DecodedInstruction d)
        {
            (uint reads, uint writes) = FloatRegisters(d);
            uint used = reads | writes;
            if (used == 0)
            {
                return;
            }

            if (_fbase is null)
            {
                _fbase = il.DeclareLocal(typeof(ulong*));
                il.Emit(OpCodes.Ldarg_1);
                il.Emit(OpCodes.Ldfld, FloatRegistersField);
                il.Emit(OpCodes.Stloc, _fbase);
                _rm = il.DeclareLocal(typeof(int));
                _flags = il.DeclareLocal(typeof(uint));
                _fpDirty = il.DeclareLocal(typeof(bool));
            }

            for (int r = 0; r < 32; r++)
            {
                if ((used & (1u << r)) != 0 && _freg[r] is null)
                {
                    _freg[r] = il.DeclareLocal(typeof(ulong));
                    il.Emit(OpCodes.Ldloc, _fbase);
                    il.Emit(OpCodes.Ldc_I4, r * 8);
                    il.Emit(OpCodes.Add);
                    il.Emit(OpCodes.Ldind_I8);
                    il.Emit(OpCodes.Stloc, _freg[r]!);
                }
            }
        }

        /// <summary>
        /// At block entry, after the registers are loaded: a block with FP instructions and mstatus.FS Off exits
        /// before its first instruction, which the interpreter then runs (an FP one traps as illegal).
        /// </summary>
        private void EmitFloatEntryCheck()
        {
            if (_fbase is null)
            {
                return;
            }

            var off = il.DefineLabel();
            LeaveToInterpreter(off, 0, block[0]);
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldfld, MstatusField);
            il.Emit(OpCodes.Ldc_I8, FsBits);
            il.Emit(OpCodes.And);
            il.Emit(OpCodes.Brfalse, off);
        }

        /// <summary>Stores every FP register the block wrote back to the hart, and marks FS Dirty if it wrote any.</summary>
        private void EmitFloatWriteBack()
        {
            if (_fpDirty is not null && _fwritten.Contains(true))
            {
                var clean = il.DefineLabel();
                il.Emit(OpCodes.Ldloc, _fpDirty);
                il.Emit(OpCodes.Brfalse, clean);
                il.Emit(OpCodes.Ldarg_1);
                il.Emit(OpCodes.Ldarg_1);
                il.Emit(OpCodes.Ldfld, MstatusField);
                il.Emit(OpCodes.Ldc_I8, FsDirtyAndSd);
                il.Emit(OpCodes.Or);
                il.Emit(OpCodes.Stfld, MstatusField);
                il.MarkLabel(clean);
            }

            for (int r = 0; r < 32; r++)
            {
                if (_fwritten[r])
                {
                    il.Emit(OpCodes.Ldloc, _fbase!);
                    il.Emit(OpCodes.Ldc_I4, r * 8);
                    il.Emit(OpCodes.Add);
                    il.Emit(OpCodes.Ldloc, _freg[r]!);
                    il.Emit(OpCodes.Stind_I8);
                }
            }
        }

        private void EmitFloat(int i, DecodedInstruction d)
        {
            var slow = il.DefineLabel();
            LeaveToInterpreter(slow, i, d);
            FloatForm form = FloatDecoding.Classify(d.Inst);

            if (FloatDecoding.HasRoundingMode(form) && d.Funct3 == FloatRounding.Dynamic)
            {
                il.Emit(OpCodes.Ldarg_1);
                il.Emit(OpCodes.Ldfld, FrmField);
                il.Emit(OpCodes.Dup);
                il.Emit(OpCodes.Stloc, _rm!);
                il.Emit(OpCodes.Ldc_I4, FloatRounding.NearestMaxMagnitude);
                il.Emit(OpCodes.Bgt_Un, slow);
            }

            switch (form)
            {
                case FloatForm.Load: EmitFloatLoad(d, slow); break;
                case FloatForm.Store: EmitFloatStore(d, slow); break;
                case FloatForm.Compare or FloatForm.ToInteger or FloatForm.MoveOrClassify: EmitFloatToInteger(d, form); break;
                default: EmitFloatToFloat(d, form); break;
            }
        }

        private void EmitFloatLoad(DecodedInstruction d, Label slow)
        {
            bool word = d.Funct3 == 2;
            EmitAddressAndProbe(d.Rs1, d.ImmI, word ? 4 : 8, _readTlb!, slow);
            EmitHostPointer();
            if (word)
            {
                il.Emit(OpCodes.Ldind_U4);
                il.Emit(OpCodes.Conv_U8);
                il.Emit(OpCodes.Ldc_I8, unchecked((long)FloatKernels.NanBox));
                il.Emit(OpCodes.Or);
            }
            else
            {
                il.Emit(OpCodes.Ldind_I8);
            }

            StoreFloat(d.Rd);
        }

        private void EmitFloatStore(DecodedInstruction d, Label slow)
        {
            bool word = d.Funct3 == 2;
            EmitAddressAndProbe(d.Rs1, d.ImmS, word ? 4 : 8, _writeTlb!, slow);
            EmitHostPointer();
            il.Emit(OpCodes.Ldloc, _freg[d.Rs2]!);
            if (word)
            {
                il.Emit(OpCodes.Conv_U4);
                il.Emit(OpCodes.Stind_I4);
            }
            else
            {
                il.Emit(OpCodes.Stind_I8);
            }
        }

        /// <summary>FEQ/FLT/FLE, FCVT to an integer, FMV.X and FCLASS: the result goes to an integer register.</summary>
        private void EmitFloatToInteger(DecodedInstruction d, FloatForm form)
        {
            il.Emit(OpCodes.Ldc_I4_0);
            il.Emit(OpCodes.Stloc, _flags!);
            il.Emit(OpCodes.Ldc_I4, unchecked((int)d.Inst));
            il.Emit(OpCodes.Ldloc, _freg[d.Rs1]!);
            switch (form)
            {
                case FloatForm.Compare:
                    il.Emit(OpCodes.Ldloc, _freg[d.Rs2]!);
                    il.Emit(OpCodes.Ldloca, _flags!);
                    il.Emit(OpCodes.Call, Kernel(typeof(FloatKernels), nameof(FloatKernels.Compare)));
                    break;
                case FloatForm.ToInteger:
                    EmitRoundingMode(d);
                    il.Emit(OpCodes.Ldloca, _flags!);
                    il.Emit(OpCodes.Call, Kernel(typeof(FloatKernels), nameof(FloatKernels.ToInteger)));
                    break;
                default:
                    il.Emit(OpCodes.Call, Kernel(typeof(FloatKernels), nameof(FloatKernels.MoveOrClassify)));
                    break;
            }

            StoreRegOrPop(d.Rd);
            if (form != FloatForm.MoveOrClassify)
            {
                il.Emit(OpCodes.Ldarg_1);
                il.Emit(OpCodes.Ldloc, _flags!);
                il.Emit(OpCodes.Call, AccrueMethod);
            }
        }

        /// <summary>Everything whose result is an FP register: flags go straight into fcsr, and FS becomes Dirty.</summary>
        private void EmitFloatToFloat(DecodedInstruction d, FloatForm form)
        {
            bool single = ((d.Inst >> 25) & 3) == 0;
            string? direct = form == FloatForm.Arithmetic
                ? (d.Inst >> 27) switch { 0 => "Add", 1 => "Sub", 2 => "Mul", _ => "Div" } + (single ? "32" : "64")
                : null;
            if (direct is not null)
            {
                il.Emit(OpCodes.Ldloc, _freg[d.Rs1]!);
                il.Emit(OpCodes.Ldloc, _freg[d.Rs2]!);
                EmitRoundingMode(d);
                EmitFlagsReference();
                il.Emit(OpCodes.Call, Kernel(single ? typeof(FloatKernels) : typeof(SoftFloat), direct));
            }
            else if (form == FloatForm.MulAdd && !single)
            {
                uint op = (d.Inst >> 2) & 3; // 0 FMADD, 1 FMSUB, 2 FNMSUB, 3 FNMADD
                LoadFloatNegated(d.Rs1, op >= 2);
                il.Emit(OpCodes.Ldloc, _freg[d.Rs2]!);
                LoadFloatNegated((int)(d.Inst >> 27), op is 1 or 3);
                EmitRoundingMode(d);
                EmitFlagsReference();
                il.Emit(OpCodes.Call, Kernel(typeof(SoftFloat), nameof(SoftFloat.MulAdd64)));
            }
            else
            {
                EmitGenericFloatCall(d, form);
            }

            StoreFloat(d.Rd);
        }

        private void EmitGenericFloatCall(DecodedInstruction d, FloatForm form)
        {
            il.Emit(OpCodes.Ldc_I4, unchecked((int)d.Inst));
            switch (form)
            {
                case FloatForm.FromInteger or FloatForm.MoveFromInteger:
                    LoadReg(d.Rs1);
                    break;
                case FloatForm.MulAdd:
                    il.Emit(OpCodes.Ldloc, _freg[d.Rs1]!);
                    il.Emit(OpCodes.Ldloc, _freg[d.Rs2]!);
                    il.Emit(OpCodes.Ldloc, _freg[(int)(d.Inst >> 27)]!);
                    break;
                case FloatForm.Arithmetic or FloatForm.SignInject or FloatForm.MinMax:
                    il.Emit(OpCodes.Ldloc, _freg[d.Rs1]!);
                    il.Emit(OpCodes.Ldloc, _freg[d.Rs2]!);
                    break;
                default:
                    il.Emit(OpCodes.Ldloc, _freg[d.Rs1]!);
                    break;
            }

            if (FloatDecoding.HasRoundingMode(form))
            {
                EmitRoundingMode(d);
            }

            if (form is not (FloatForm.SignInject or FloatForm.MoveFromInteger))
            {
                EmitFlagsReference();
            }

            il.Emit(OpCodes.Call, Kernel(typeof(FloatKernels), form.ToString()));
        }

        private void LoadFloatNegated(int r, bool negate)
        {
            il.Emit(OpCodes.Ldloc, _freg[r]!);
            if (negate)
            {
                il.Emit(OpCodes.Ldc_I8, long.MinValue);
                il.Emit(OpCodes.Xor);
            }
        }

        /// <summary>Pushes the rounding mode: the rm field, or frm (checked and kept in a local) for a dynamic one.</summary>
        private void EmitRoundingMode(DecodedInstruction d)
        {
            if (d.Funct3 == FloatRounding.Dynamic)
            {
                il.Emit(OpCodes.Ldloc, _rm!);
            }
            else
            {
                il.Emit(OpCodes.Ldc_I4, (int)d.Funct3);
            }
        }

        /// <summary>Pushes a reference to the hart's fflags: the operation ORs its flags into fcsr directly.</summary>
        private void EmitFlagsReference()
        {
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldflda, FflagsField);
        }

        /// <summary>Stores the value on the stack into FP register <paramref name="r"/>; FS becomes Dirty at the exit.</summary>
        private void StoreFloat(int r)
        {
            il.Emit(OpCodes.Stloc, _freg[r]!);
            _fwritten[r] = true;
            il.Emit(OpCodes.Ldc_I4_1);
            il.Emit(OpCodes.Stloc, _fpDirty!);
        }
    }
}
