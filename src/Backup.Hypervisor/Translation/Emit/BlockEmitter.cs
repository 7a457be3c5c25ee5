using System.Reflection;
using System.Reflection.Emit;
using Backup.Hypervisor.Cpu;
using Backup.Hypervisor.Mmu;
using Backup.Hypervisor.Translation.Cache;
using Backup.Hypervisor.Translation.Decode;

namespace Backup.Hypervisor.Translation.Emit;

/// <summary>
/// Turns a decoded block into IL in a <see cref="DynamicMethod"/> that the .NET JIT compiles to native code.
/// Guest registers the block touches live in IL locals (so the JIT can keep them in host registers) and are written
/// back at the single exit. Loads and stores probe the hart's software TLB inline (one compare, one host access)
/// and call the interpreter's slow path on a miss or MMIO. Atomics and M-extension divisions call the
/// interpreter's own helpers, so their corner cases cannot diverge. Every exit leaves pc and instret exact.
/// </summary>
internal static unsafe partial class BlockEmitter
{
    private static readonly FieldInfo PcField = typeof(Hart).GetField(nameof(Hart._pc), BindingFlags.Instance | BindingFlags.NonPublic)!;
    private static readonly FieldInfo InstretField = typeof(Hart).GetField(nameof(Hart._instret), BindingFlags.Instance | BindingFlags.NonPublic)!;
    private static readonly FieldInfo ReadTlbField = typeof(Hart).GetField(nameof(Hart._readTlb), BindingFlags.Instance | BindingFlags.NonPublic)!;
    private static readonly FieldInfo WriteTlbField = typeof(Hart).GetField(nameof(Hart._writeTlb), BindingFlags.Instance | BindingFlags.NonPublic)!;
    private static readonly MethodInfo MulDiv = typeof(Hart).GetMethod(nameof(Hart.MulDiv), BindingFlags.Static | BindingFlags.NonPublic)!;
    private static readonly MethodInfo MulDivWord = typeof(Hart).GetMethod(nameof(Hart.MulDivWord), BindingFlags.Static | BindingFlags.NonPublic)!;

    /// <summary>Mask selecting a TLB entry's byte offset from va &gt;&gt; 8 (entries are 16 bytes).</summary>
    private static readonly long TlbIndexMask = (Hart.TlbEntries - 1) * sizeof(TlbEntry);

    private static readonly FieldInfo ChainedField = typeof(Hart).GetField(nameof(Hart._blocksChained), BindingFlags.Instance | BindingFlags.NonPublic)!;
    private static readonly FieldInfo ExitsField = typeof(TranslatedBlock).GetField(nameof(TranslatedBlock.Exits), BindingFlags.Instance | BindingFlags.NonPublic)!;
    private static readonly FieldInfo FunctionField = typeof(TranslatedBlock).GetField(nameof(TranslatedBlock.Function), BindingFlags.Instance | BindingFlags.NonPublic)!;
    private static readonly MethodInfo Invoke = typeof(BlockFunction).GetMethod(nameof(BlockFunction.Invoke))!;
    private static readonly FieldInfo LengthField = typeof(TranslatedBlock).GetField(nameof(TranslatedBlock.Length), BindingFlags.Instance | BindingFlags.NonPublic)!;
    private static readonly Type[] Parameters = [typeof(TranslatedBlock), typeof(Hart), typeof(ulong*), typeof(int)];

    /// <summary>
    /// Emits <paramref name="block"/> as the code of <paramref name="self"/> (the returned delegate is bound to it) and
    /// has the JIT compile it now, on the calling thread.
    /// </summary>
    public static EmittedBlock Emit(DecodedInstruction[] block, TranslatedBlock self)
    {
        if (block.Length == 0)
        {
            throw new ArgumentException("a block needs at least one instruction", nameof(block));
        }

        var method = new DynamicMethod($"guest_{block[0].Pc:x}", typeof(int), Parameters, typeof(Hart).Module, skipVisibility: true);
        var builder = new Builder(method, block);
        builder.Build();
        var function = (BlockFunction)method.CreateDelegate(typeof(BlockFunction), self);
        function(null, null, 0); // JIT-compiles the method now
        return new EmittedBlock(function, [.. builder.ExitTargets]);
    }

    private sealed partial class Builder(DynamicMethod method, DecodedInstruction[] block)
    {
        private readonly ILGenerator il = method.GetILGenerator();
        private LocalBuilder _next = null!, _left = null!;
        private Label _chainCheck;
        private LocalBuilder _exitNumber = null!;

        /// <summary>Virtual addresses of the chainable exits, by exit number.</summary>
        public List<ulong> ExitTargets { get; } = [];

        private readonly LocalBuilder?[] _reg = new LocalBuilder?[32];
        private readonly bool[] _written = new bool[32];
        private readonly List<Action> _outOfLine = [];
        private LocalBuilder _va = null!, _entry = null!, _target = null!;
        private LocalBuilder _exitPc = null!, _retired = null!, _done = null!, _step = null!;
        private Label[] _starts = [];
        private readonly Dictionary<ulong, int> _index = [];
        private LocalBuilder? _readTlb, _writeTlb;
        private Label _epilogue;

        public void Build()
        {
            _va = il.DeclareLocal(typeof(ulong));
            _entry = il.DeclareLocal(typeof(byte*));
            _step = il.DeclareLocal(typeof(bool)); // exit leaves the instruction at pc to the interpreter
            _target = il.DeclareLocal(typeof(ulong));
            _exitPc = il.DeclareLocal(typeof(ulong));
            _retired = il.DeclareLocal(typeof(int));
            _done = il.DeclareLocal(typeof(int)); // instructions of earlier iterations of a self-loop
            _epilogue = il.DefineLabel();

            _next = il.DeclareLocal(typeof(TranslatedBlock));
            _left = il.DeclareLocal(typeof(int));
            _chainCheck = il.DefineLabel();
            _exitNumber = il.DeclareLocal(typeof(int));

            // A null hart only forces the JIT to compile this method.
            var run = il.DefineLabel();
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Brtrue, run);
            il.Emit(OpCodes.Ldc_I4_0);
            il.Emit(OpCodes.Ret);
            il.MarkLabel(run);

            for (int i = 0; i < block.Length; i++)
            {
                _index[block[i].Pc] = i;
            }

            // Every register an instruction really reads or writes (not the immediate bits that sit where an
            // R-type's rs2 would be) gets a local loaded at entry: exits write back every register the block
            // writes, so even one written before it is read needs its old value for the exits before the write.
            foreach (var d in block)
            {
                uint used = Reads(d) | Writes(d);
                for (int r = 1; r < 32; r++)
                {
                    if ((used & (1u << r)) != 0 && _reg[r] is null)
                    {
                        _reg[r] = il.DeclareLocal(typeof(ulong));
                        il.Emit(OpCodes.Ldarg_2);
                        il.Emit(OpCodes.Ldc_I4, r * 8);
                        il.Emit(OpCodes.Add);
                        il.Emit(OpCodes.Ldind_I8);
                        il.Emit(OpCodes.Stloc, _reg[r]!);
                    }
                }

                DeclareFloatRegisters(d);
                if (d.Opcode is 0x03 or 0x07 && _readTlb is null)
                {
                    _readTlb = il.DeclareLocal(typeof(byte*));
                    il.Emit(OpCodes.Ldarg_1);
                    il.Emit(OpCodes.Ldfld, ReadTlbField);
                    il.Emit(OpCodes.Stloc, _readTlb);
                }
                else if (d.Opcode is 0x23 or 0x27 && _writeTlb is null)
                {
                    _writeTlb = il.DeclareLocal(typeof(byte*));
                    il.Emit(OpCodes.Ldarg_1);
                    il.Emit(OpCodes.Ldfld, WriteTlbField);
                    il.Emit(OpCodes.Stloc, _writeTlb);
                }
            }

            EmitFloatEntryCheck();
            _starts = new Label[block.Length];
            for (int i = 0; i < block.Length; i++)
            {
                _starts[i] = il.DefineLabel();
            }

            bool ended = false;
            for (int i = 0; i < block.Length; i++)
            {
                il.MarkLabel(_starts[i]);
                ended = EmitInstruction(i, block[i]);
            }

            if (!ended)
            {
                EmitStaticExit(block[^1].Next, block.Length);
            }

            foreach (var emit in _outOfLine)
            {
                emit();
            }

            il.MarkLabel(_epilogue);
            EmitWriteBack();
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldloc, _exitPc);
            il.Emit(OpCodes.Stfld, PcField);

            // Budget left = budget - (retired + done); an exit that leaves the next instruction to the interpreter
            // returns its complement.
            var step = il.DefineLabel();
            il.Emit(OpCodes.Ldarg_3);
            il.Emit(OpCodes.Ldloc, _retired);
            il.Emit(OpCodes.Sub);
            il.Emit(OpCodes.Ldloc, _done);
            il.Emit(OpCodes.Sub);
            il.Emit(OpCodes.Ldloc, _step);
            il.Emit(OpCodes.Brtrue, step);
            il.Emit(OpCodes.Ret);
            il.MarkLabel(step);
            il.Emit(OpCodes.Not);
            il.Emit(OpCodes.Ret);

            if (ExitTargets.Count > 0)
            {
                // A static exit within the page: chain when the target block is compiled and fits in what is left.
                il.MarkLabel(_chainCheck);
                il.Emit(OpCodes.Ldarg_0);
                il.Emit(OpCodes.Ldfld, ExitsField);
                il.Emit(OpCodes.Ldloc, _exitNumber);
                il.Emit(OpCodes.Ldelem_Ref);
                il.Emit(OpCodes.Stloc, _next);
                il.Emit(OpCodes.Ldloc, _next);
                il.Emit(OpCodes.Brfalse, _epilogue);
                il.Emit(OpCodes.Ldloc, _next);
                il.Emit(OpCodes.Ldfld, FunctionField);
                il.Emit(OpCodes.Brfalse, _epilogue);
                il.Emit(OpCodes.Ldarg_3);
                il.Emit(OpCodes.Ldloc, _done);
                il.Emit(OpCodes.Sub);
                il.Emit(OpCodes.Ldloc, _retired);
                il.Emit(OpCodes.Sub);
                il.Emit(OpCodes.Stloc, _left);
                il.Emit(OpCodes.Ldloc, _next);
                il.Emit(OpCodes.Ldfld, LengthField);
                il.Emit(OpCodes.Ldloc, _left);
                il.Emit(OpCodes.Bgt, _epilogue);

                // Chaining: _next is a compiled block of this page that fits in _left; registers go back to the
                // register file (the next block loads what it needs) and the next block's code replaces this frame.
                EmitWriteBack();
                il.Emit(OpCodes.Ldarg_1);
                il.Emit(OpCodes.Ldarg_1);
                il.Emit(OpCodes.Ldfld, ChainedField);
                il.Emit(OpCodes.Ldc_I4_1);
                il.Emit(OpCodes.Conv_I8);
                il.Emit(OpCodes.Add);
                il.Emit(OpCodes.Stfld, ChainedField);
                il.Emit(OpCodes.Ldloc, _next);
                il.Emit(OpCodes.Ldfld, FunctionField);
                il.Emit(OpCodes.Ldarg_1);
                il.Emit(OpCodes.Ldarg_2);
                il.Emit(OpCodes.Ldloc, _left);
                il.Emit(OpCodes.Tailcall);
                il.Emit(OpCodes.Callvirt, Invoke);
                il.Emit(OpCodes.Ret);
            }
        }

        /// <summary>The registers (bit r) instruction <paramref name="d"/> reads.</summary>
        private static uint Reads(DecodedInstruction d) => d.Opcode switch
        {
            0x33 or 0x3B or 0x23 or 0x63 => (1u << d.Rs1) | (1u << d.Rs2),
            0x13 or 0x1B or 0x03 or 0x67 or 0x07 or 0x27 => 1u << d.Rs1,
            0x53 => FloatDecoding.Classify(d.Inst) is FloatForm.FromInteger or FloatForm.MoveFromInteger ? 1u << d.Rs1 : 0,
            _ => 0,
        };

        /// <summary>The registers (bit r, never x0) instruction <paramref name="d"/> writes.</summary>
        private static uint Writes(DecodedInstruction d) => d.Opcode switch
        {
            0x13 or 0x1B or 0x33 or 0x3B or 0x37 or 0x17 or 0x03 or 0x6F or 0x67 => (1u << d.Rd) & ~1u,
            0x53 => FloatDecoding.WritesInteger(FloatDecoding.Classify(d.Inst)) ? (1u << d.Rd) & ~1u : 0,
            _ => 0,
        };

        /// <summary>Stores every register the block wrote back to the register file and adds the retired instructions (_retired + _done) to instret.</summary>
        private void EmitWriteBack()
        {
            for (int r = 1; r < 32; r++)
            {
                if (_written[r])
                {
                    il.Emit(OpCodes.Ldarg_2);
                    il.Emit(OpCodes.Ldc_I4, r * 8);
                    il.Emit(OpCodes.Add);
                    il.Emit(OpCodes.Ldloc, _reg[r]!);
                    il.Emit(OpCodes.Stind_I8);
                }
            }

            EmitFloatWriteBack();
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldfld, InstretField);
            il.Emit(OpCodes.Ldloc, _retired);
            il.Emit(OpCodes.Ldloc, _done);
            il.Emit(OpCodes.Add);
            il.Emit(OpCodes.Conv_I8);
            il.Emit(OpCodes.Add);
            il.Emit(OpCodes.Stfld, InstretField);
        }

        /// <summary>Emits instruction <paramref name="i"/>; true when it ended the block (a jump, or a branch as the last instruction).</summary>
        private bool EmitInstruction(int i, DecodedInstruction d)
        {
            switch (d.Opcode)
            {
                case 0x13: EmitOpImm(d); return false;
                case 0x33: EmitOp(d); return false;
                case 0x1B: EmitOpImm32(d); return false;
                case 0x3B: EmitOp32(d); return false;
                case 0x37:
                    if (d.Rd != 0)
                    {
                        il.Emit(OpCodes.Ldc_I8, d.ImmU);
                        StoreReg(d.Rd);
                    }

                    return false;
                case 0x17:
                    if (d.Rd != 0)
                    {
                        il.Emit(OpCodes.Ldc_I8, (long)(d.Pc + (ulong)d.ImmU));
                        StoreReg(d.Rd);
                    }

                    return false;
                case 0x0F: return false; // FENCE: one hart at a time, accesses are in order
                case 0x07 or 0x27 or 0x43 or 0x47 or 0x4B or 0x4F or 0x53: EmitFloat(i, d); return false;
                case 0x03: EmitLoad(i, d); return false;
                case 0x23: EmitStore(i, d); return false;
                case 0x63: EmitBranch(i, d); return i == block.Length - 1;
                case 0x6F:
                    if (d.Rd != 0)
                    {
                        il.Emit(OpCodes.Ldc_I8, (long)d.Next);
                        StoreReg(d.Rd);
                    }

                    if (i + 1 < block.Length && block[i + 1].Pc == d.Pc + (ulong)d.ImmJ)
                    {
                        return false; // the decoder followed the jump: its target is the next instruction here
                    }

                    EmitJumpTo(d.Pc + (ulong)d.ImmJ, i);
                    return true;
                case 0x67:
                    LoadReg(d.Rs1);
                    il.Emit(OpCodes.Ldc_I8, d.ImmI);
                    il.Emit(OpCodes.Add);
                    il.Emit(OpCodes.Ldc_I8, ~1L);
                    il.Emit(OpCodes.And);
                    il.Emit(OpCodes.Stloc, _target);
                    if (d.Rd != 0)
                    {
                        il.Emit(OpCodes.Ldc_I8, (long)d.Next);
                        StoreReg(d.Rd);
                    }

                    il.Emit(OpCodes.Ldloc, _target);
                    EmitDynamicExit(i + 1);
                    return true;
                default:
                    throw new InvalidOperationException($"opcode 0x{d.Opcode:x2} at 0x{d.Pc:x} is not translatable (decoder and emitter disagree)");
            }
        }

        private void EmitBranch(int i, DecodedInstruction d)
        {
            var taken = il.DefineLabel();
            LoadReg(d.Rs1);
            LoadReg(d.Rs2);
            il.Emit(d.Funct3 switch
            {
                0 => OpCodes.Beq,
                1 => OpCodes.Bne_Un,
                4 => OpCodes.Blt,
                5 => OpCodes.Bge,
                6 => OpCodes.Blt_Un,
                _ => OpCodes.Bge_Un,
            }, taken);
            var notTaken = il.DefineLabel();
            if (i == block.Length - 1)
            {
                EmitStaticExit(d.Next, i + 1);
            }
            else
            {
                il.Emit(OpCodes.Br, notTaken); // the block continues along the fall-through path
            }

            il.MarkLabel(taken);
            EmitJumpTo(d.Pc + (ulong)d.ImmB, i);
            il.MarkLabel(notTaken);
        }

        /// <summary>
        /// Instruction <paramref name="i"/> transfers control to <paramref name="target"/>. A target inside the block
        /// (an instruction on its fall-through path) is reached inside the compiled code, with the guest registers
        /// still in locals: forward at once, backward (a loop) as long as the rest of the block from there fits in
        /// the budget the dispatcher passed, so the block ends exactly where the interpreter's quantum would. Any
        /// other target exits. <c>_done</c> is kept so that instructions executed so far = <c>_done</c> + the index
        /// of the instruction being executed.
        /// </summary>
        private void EmitJumpTo(ulong target, int i)
        {
            if (!_index.TryGetValue(target, out int k))
            {
                EmitStaticExit(target, i + 1);
                return;
            }

            il.Emit(OpCodes.Ldloc, _done);
            il.Emit(OpCodes.Ldc_I4, i + 1 - k);
            il.Emit(OpCodes.Add);
            il.Emit(OpCodes.Stloc, _done);
            if (k > i)
            {
                il.Emit(OpCodes.Br, _starts[k]); // forward: executes at most what the straight path would
                return;
            }

            // Backward: executed so far (_done + k) plus the longest path from k (Length - k) must fit.
            il.Emit(OpCodes.Ldloc, _done);
            il.Emit(OpCodes.Ldc_I4, block.Length);
            il.Emit(OpCodes.Add);
            il.Emit(OpCodes.Ldarg_3);
            il.Emit(OpCodes.Ble, _starts[k]);
            EmitExit(target, k);
        }

        private void LoadReg(int r)
        {
            if (r == 0)
            {
                il.Emit(OpCodes.Ldc_I8, 0L);
            }
            else
            {
                il.Emit(OpCodes.Ldloc, _reg[r]!);
            }
        }

        private void StoreReg(int r)
        {
            il.Emit(OpCodes.Stloc, _reg[r]!);
            _written[r] = true;
        }

        private void StoreRegOrPop(int r)
        {
            if (r == 0)
            {
                il.Emit(OpCodes.Pop);
            }
            else
            {
                StoreReg(r);
            }
        }

        /// <summary>
        /// Instruction <paramref name="i"/> missed the inline TLB probe (a page not cached for this access, MMIO, a
        /// page holding translated code, a misaligned access at a page end): the block exits before it (the
        /// <paramref name="i"/> before it consumed and retired) and the dispatcher has the interpreter execute it,
        /// with every side effect (page walk, trap, device access, invalidation, quantum end) exactly the
        /// interpreter's. Compiled code therefore calls nothing, and the JIT can keep guest registers in host
        /// registers across the whole block.
        /// </summary>
        private void LeaveToInterpreter(Label slow, int i, DecodedInstruction d) => _outOfLine.Add(() =>
        {
            il.MarkLabel(slow);
            il.Emit(OpCodes.Ldc_I4_1);
            il.Emit(OpCodes.Stloc, _step);
            EmitExit(d.Pc, i);
        });

        /// <summary>
        /// Control leaves the block for <paramref name="target"/> (known now) after <paramref name="count"/>
        /// instructions (plus <c>_done</c>). A target in the block's own page gets an exit number: when the block
        /// there is compiled and fits in the rest of the budget, the block chains into it; otherwise it exits.
        /// </summary>
        private void EmitStaticExit(ulong target, int count)
        {
            if ((target >> 12) != (block[0].Pc >> 12))
            {
                EmitExit(target, count);
                return;
            }

            // The exit number, pc and count go to locals; one shared check per method decides (keeps the IL, and
            // the JIT's work, small).
            il.Emit(OpCodes.Ldc_I4, ExitTargets.Count);
            il.Emit(OpCodes.Stloc, _exitNumber);
            ExitTargets.Add(target);
            il.Emit(OpCodes.Ldc_I8, (long)target);
            il.Emit(OpCodes.Stloc, _exitPc);
            il.Emit(OpCodes.Ldc_I4, count);
            il.Emit(OpCodes.Stloc, _retired);
            il.Emit(OpCodes.Br, _chainCheck);
        }

        /// <summary>Exits to <paramref name="pc"/> with <paramref name="retired"/> instructions (plus <c>_done</c>) consumed and retired.</summary>
        private void EmitExit(ulong pc, int retired)
        {
            il.Emit(OpCodes.Ldc_I8, (long)pc);
            EmitDynamicExit(retired);
        }

        /// <summary>Exits with the pc on the IL stack.</summary>
        private void EmitDynamicExit(int retired)
        {
            il.Emit(OpCodes.Stloc, _exitPc);
            il.Emit(OpCodes.Ldc_I4, retired);
            il.Emit(OpCodes.Stloc, _retired);
            il.Emit(OpCodes.Br, _epilogue);
        }
    }
}
