using System.Runtime.CompilerServices;
using Backup.Hypervisor.Mmu;
using Backup.Hypervisor.Translation.Cache;

namespace Backup.Hypervisor.Cpu;

public sealed unsafe partial class Hart
{
    /// <summary>
    /// Runs up to <paramref name="budget"/> instructions (traps count against the budget too, so a trap storm
    /// cannot stall the machine). Returns early when an interrupt may have become takeable, on WFI, or on a
    /// fatal error. Returns the budget consumed.
    /// </summary>
    public int Run(int budget)
    {
        if (State != HartState.Running || FatalError is not null)
        {
            return 0;
        }

        _breakQuantum = false;
        ulong interrupt = PendingInterruptCause();
        if (interrupt != 0)
        {
            _pc = EnterTrap(_pc, interrupt, 0);
            _breakQuantum = false;
        }

        return _translation is null ? Interpret(budget) : RunTranslated(budget);
    }

    /// <summary>
    /// The interpreter loop: runs up to <paramref name="budget"/> instructions from <c>_pc</c>, ending early when
    /// <c>_breakQuantum</c> is set or on a fatal error. Returns the budget consumed.
    /// </summary>
    private int Interpret(int budget)
    {
        ulong* x = _x;
        ulong pc = _pc;
        int used = 0;

        while (used < budget)
        {
            used++;
            uint inst;
            if ((pc >> 12) == _fetchTag && (pc & 0xFFF) <= 0xFFC)
            {
                inst = *(uint*)(_fetchAddend + (long)pc);
            }
            else if (!FetchSlow(pc, out inst))
            {
                goto Trap;
            }

            ulong next;
            if ((inst & 3) != 3)
            {
                uint expanded = CompressedExpander.Expand(inst & 0xFFFF);
                if (expanded == 0)
                {
                    inst &= 0xFFFF;
                    goto Illegal;
                }

                inst = expanded;
                next = pc + 2;
            }
            else
            {
                next = pc + 4;
            }

            uint rd = (inst >> 7) & 31;
            uint rs1 = (inst >> 15) & 31;
            uint rs2 = (inst >> 20) & 31;
            uint f3 = (inst >> 12) & 7;

            switch (inst & 0x7F)
            {
                case 0x13: // OP-IMM
                {
                    ulong a = x[rs1];
                    ulong imm = (ulong)(long)((int)inst >> 20);
                    switch (f3)
                    {
                        case 0: x[rd] = a + imm; break;
                        case 1:
                            if ((inst >> 26) != 0)
                            {
                                goto Illegal;
                            }

                            x[rd] = a << (int)(imm & 63);
                            break;
                        case 2: x[rd] = (long)a < (long)imm ? 1UL : 0; break;
                        case 3: x[rd] = a < imm ? 1UL : 0; break;
                        case 4: x[rd] = a ^ imm; break;
                        case 5:
                            if ((inst >> 26) == 0)
                            {
                                x[rd] = a >> (int)(imm & 63);
                            }
                            else if ((inst >> 26) == 0x10)
                            {
                                x[rd] = (ulong)((long)a >> (int)(imm & 63));
                            }
                            else
                            {
                                goto Illegal;
                            }

                            break;
                        case 6: x[rd] = a | imm; break;
                        default: x[rd] = a & imm; break;
                    }

                    break;
                }

                case 0x03: // LOAD
                {
                    ulong va = x[rs1] + (ulong)(long)((int)inst >> 20);
                    TlbEntry* e = _readTlb + (int)((va >> 12) & TlbMask);
                    ulong v;
                    if (e->Tag == (va >> 12) && (va & 0xFFF) <= 0xFF8)
                    {
                        byte* p = (byte*)(e->Addend + (long)va);
                        switch (f3)
                        {
                            case 0: v = (ulong)*(sbyte*)p; break;
                            case 1: v = (ulong)*(short*)p; break;
                            case 2: v = (ulong)*(int*)p; break;
                            case 3: v = *(ulong*)p; break;
                            case 4: v = *p; break;
                            case 5: v = *(ushort*)p; break;
                            case 6: v = *(uint*)p; break;
                            default: goto Illegal;
                        }
                    }
                    else
                    {
                        if (f3 == 7)
                        {
                            goto Illegal;
                        }

                        if (!LoadSlow(va, f3, out v))
                        {
                            goto Trap;
                        }
                    }

                    x[rd] = v;
                    break;
                }

                case 0x23: // STORE
                {
                    if (f3 > 3)
                    {
                        goto Illegal;
                    }

                    ulong va = x[rs1] + (ulong)(((long)(int)(inst & 0xFE000000) >> 20) | ((inst >> 7) & 31));
                    ulong v = x[rs2];
                    TlbEntry* e = _writeTlb + (int)((va >> 12) & TlbMask);
                    if (e->Tag == (va >> 12) && (va & 0xFFF) <= 0xFF8)
                    {
                        byte* p = (byte*)(e->Addend + (long)va);
                        switch (f3)
                        {
                            case 0: *p = (byte)v; break;
                            case 1: *(ushort*)p = (ushort)v; break;
                            case 2: *(uint*)p = (uint)v; break;
                            default: *(ulong*)p = v; break;
                        }
                    }
                    else if (!StoreSlow(va, 1 << (int)f3, v))
                    {
                        goto Trap;
                    }

                    break;
                }

                case 0x33: // OP
                {
                    ulong a = x[rs1], b = x[rs2];
                    uint f7 = inst >> 25;
                    if (f7 == 0)
                    {
                        switch (f3)
                        {
                            case 0: x[rd] = a + b; break;
                            case 1: x[rd] = a << (int)(b & 63); break;
                            case 2: x[rd] = (long)a < (long)b ? 1UL : 0; break;
                            case 3: x[rd] = a < b ? 1UL : 0; break;
                            case 4: x[rd] = a ^ b; break;
                            case 5: x[rd] = a >> (int)(b & 63); break;
                            case 6: x[rd] = a | b; break;
                            default: x[rd] = a & b; break;
                        }
                    }
                    else if (f7 == 0x20)
                    {
                        if (f3 == 0)
                        {
                            x[rd] = a - b;
                        }
                        else if (f3 == 5)
                        {
                            x[rd] = (ulong)((long)a >> (int)(b & 63));
                        }
                        else
                        {
                            goto Illegal;
                        }
                    }
                    else if (f7 == 1)
                    {
                        x[rd] = MulDiv(f3, a, b);
                    }
                    else
                    {
                        goto Illegal;
                    }

                    break;
                }

                case 0x63: // BRANCH
                {
                    ulong a = x[rs1], b = x[rs2];
                    bool taken;
                    switch (f3)
                    {
                        case 0: taken = a == b; break;
                        case 1: taken = a != b; break;
                        case 4: taken = (long)a < (long)b; break;
                        case 5: taken = (long)a >= (long)b; break;
                        case 6: taken = a < b; break;
                        case 7: taken = a >= b; break;
                        default: goto Illegal;
                    }

                    if (taken)
                    {
                        long imm = ((long)((int)(inst & 0x80000000) >> 19)) | ((inst & 0x80) << 4) | ((inst >> 20) & 0x7E0) | ((inst >> 7) & 0x1E);
                        next = pc + (ulong)imm;
                    }

                    goto Jumped; // taken or not, the next instruction starts a block
                }

                case 0x1B: // OP-IMM-32
                {
                    uint a = (uint)x[rs1];
                    switch (f3)
                    {
                        case 0: x[rd] = (ulong)(long)(int)(a + (uint)((int)inst >> 20)); break;
                        case 1:
                            if ((inst >> 25) != 0)
                            {
                                goto Illegal;
                            }

                            x[rd] = (ulong)(long)(int)(a << (int)rs2);
                            break;
                        case 5:
                            if ((inst >> 25) == 0)
                            {
                                x[rd] = (ulong)(long)(int)(a >> (int)rs2);
                            }
                            else if ((inst >> 25) == 0x20)
                            {
                                x[rd] = (ulong)(long)((int)a >> (int)rs2);
                            }
                            else
                            {
                                goto Illegal;
                            }

                            break;
                        default: goto Illegal;
                    }

                    break;
                }

                case 0x3B: // OP-32
                {
                    uint a = (uint)x[rs1], b = (uint)x[rs2];
                    uint f7 = inst >> 25;
                    if (f7 == 0)
                    {
                        switch (f3)
                        {
                            case 0: x[rd] = (ulong)(long)(int)(a + b); break;
                            case 1: x[rd] = (ulong)(long)(int)(a << (int)(b & 31)); break;
                            case 5: x[rd] = (ulong)(long)(int)(a >> (int)(b & 31)); break;
                            default: goto Illegal;
                        }
                    }
                    else if (f7 == 0x20)
                    {
                        if (f3 == 0)
                        {
                            x[rd] = (ulong)(long)(int)(a - b);
                        }
                        else if (f3 == 5)
                        {
                            x[rd] = (ulong)(long)((int)a >> (int)(b & 31));
                        }
                        else
                        {
                            goto Illegal;
                        }
                    }
                    else if (f7 == 1)
                    {
                        if (f3 is 1 or 2 or 3)
                        {
                            goto Illegal;
                        }

                        x[rd] = MulDivWord(f3, a, b);
                    }
                    else
                    {
                        goto Illegal;
                    }

                    break;
                }

                case 0x37: // LUI
                    x[rd] = (ulong)(long)(int)(inst & 0xFFFFF000);
                    break;

                case 0x17: // AUIPC
                    x[rd] = pc + (ulong)(long)(int)(inst & 0xFFFFF000);
                    break;

                case 0x6F: // JAL
                {
                    long imm = ((long)((int)(inst & 0x80000000) >> 11)) | (inst & 0xFF000) | ((inst >> 9) & 0x800) | ((inst >> 20) & 0x7FE);
                    x[rd] = next;
                    next = pc + (ulong)imm;
                    goto Jumped;
                }

                case 0x67: // JALR
                {
                    if (f3 != 0)
                    {
                        goto Illegal;
                    }

                    ulong target = (x[rs1] + (ulong)(long)((int)inst >> 20)) & ~1UL;
                    x[rd] = next;
                    next = target;
                    goto Jumped;
                }

                case 0x0F: // MISC-MEM
                    if (f3 == 1)
                    {
                        OnFenceI();
                    }
                    else if (f3 != 0)
                    {
                        goto Illegal;
                    }

                    break;

                case 0x2F: // AMO
                    switch (ExecuteAtomic(inst))
                    {
                        case StepResult.Illegal: goto Illegal;
                        case StepResult.Trap: goto Trap;
                    }

                    break;

                case 0x07 or 0x27 or 0x43 or 0x47 or 0x4B or 0x4F or 0x53: // F and D
                    switch (ExecuteFloat(inst))
                    {
                        case StepResult.Illegal:
                            if (next == pc + 2 && FetchSlow(pc, out uint original))
                            {
                                inst = original & 0xFFFF; // tval holds the compressed instruction's own bits
                            }

                            goto Illegal;
                        case StepResult.Trap: goto Trap;
                    }

                    break;

                case 0x73: // SYSTEM
                    switch (ExecuteSystem(inst, pc, ref next))
                    {
                        case StepResult.Illegal: goto Illegal;
                        case StepResult.Trap: goto Trap;
                        case StepResult.Jump:
                            x[0] = 0;
                            pc = next;
                            _instret++;
                            if (_breakQuantum)
                            {
                                goto End;
                            }

                            continue;
                    }

                    break;

                default:
                    goto Illegal;
            }

            x[0] = 0;
            pc = next;
            _instret++;
            if (_breakQuantum)
            {
                goto End;
            }

            continue;

        Jumped:
            // After a branch or jump: with a translating tier, count the block starting here and return to the
            // dispatcher once it is hot (it then runs, or compiles, the block).
            x[0] = 0;
            pc = next;
            _instret++;
            if (_breakQuantum)
            {
                goto End;
            }

            if (_heat is { } heat)
            {
                ref ushort h = ref heat[(int)((pc >> 1) & TranslationCache.HeatMask)];
                if (h >= _hotThreshold)
                {
                    goto End;
                }

                h++;
            }

            continue;

        Illegal:
            _trapCause = TrapCause.IllegalInstruction;
            _trapValue = inst;
        Trap:
            x[0] = 0;
            pc = TakeTrap(pc);
            if (FatalError is not null)
            {
                goto End;
            }
        }

    End:
        _pc = pc;
        return used;
    }

    /// <summary>
    /// Takes the trap recorded in <c>_trapCause</c>/<c>_trapValue</c> for the instruction at <paramref name="pc"/>
    /// (then any interrupt that became takeable) and returns the new pc. Stops the machine when the guest traps
    /// over and over without retiring anything. Shared by the interpreter and the translated tier.
    /// </summary>
    private ulong TakeTrap(ulong pc)
    {
        if (_instret == _instretAtLastTrap && ++_trapsWithoutProgress >= MaxTrapsWithoutProgress)
        {
            Fatal($"the guest is stuck: {MaxTrapsWithoutProgress} traps in a row without executing an instruction (last: cause {_trapCause}, tval 0x{_trapValue:x}, pc 0x{pc:x}, mode {_mode}, stvec 0x{_stvec:x}, mtvec 0x{_mtvec:x})");
            return pc;
        }

        if (_instret != _instretAtLastTrap)
        {
            _trapsWithoutProgress = 0;
            _instretAtLastTrap = _instret;
        }

        pc = EnterTrap(pc, _trapCause, _trapValue);
        if (FatalError is not null)
        {
            return pc;
        }

        _breakQuantum = false;
        ulong irq = PendingInterruptCause();
        if (irq != 0)
        {
            pc = EnterTrap(pc, irq, 0);
            _breakQuantum = false;
        }

        return pc;
    }

    /// <summary>Hook for FENCE.I (instruction caches of a translating tier are invalidated here).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void OnFenceI()
    {
        // A store to a page holding translated code already invalidated it at the store (PageWriteTracker), and
        // FENCE.I is never translated, so the next block lookup sees the new code; the jump cache is dropped too.
        _fetchTag = TlbEntry.InvalidTag;
        _translation?.FlushJumpCache();
    }

    /// <summary>Consecutive traps with no instruction retired in between after which the VM is stopped.</summary>
    internal const int MaxTrapsWithoutProgress = 10_000;

    private ulong _instretAtLastTrap = ulong.MaxValue;
    private int _trapsWithoutProgress;

    private enum StepResult
    {
        Next,
        Jump,
        Trap,
        Illegal,
    }

    internal static ulong MulDiv(uint f3, ulong a, ulong b)
    {
        switch (f3)
        {
            case 0: return a * b;
            case 1: return (ulong)Math.BigMul((long)a, (long)b, out _);
            case 2:
            {
                // MULHSU: signed a times unsigned b
                ulong high = Math.BigMul(a, b, out _);
                return (long)a < 0 ? high - b : high;
            }

            case 3: return Math.BigMul(a, b, out _);
            case 4: // DIV
                if (b == 0)
                {
                    return ulong.MaxValue;
                }

                if ((long)a == long.MinValue && (long)b == -1)
                {
                    return a;
                }

                return (ulong)((long)a / (long)b);
            case 5: return b == 0 ? ulong.MaxValue : a / b;
            case 6: // REM
                if (b == 0)
                {
                    return a;
                }

                if ((long)a == long.MinValue && (long)b == -1)
                {
                    return 0;
                }

                return (ulong)((long)a % (long)b);
            default: return b == 0 ? a : a % b;
        }
    }

    internal static ulong MulDivWord(uint f3, uint a, uint b)
    {
        int result;
        switch (f3)
        {
            case 0: result = (int)(a * b); break;
            case 4:
                result = b == 0 ? -1 : ((int)a == int.MinValue && (int)b == -1) ? int.MinValue : (int)a / (int)b;
                break;
            case 5: result = b == 0 ? -1 : (int)(a / b); break;
            case 6:
                result = b == 0 ? (int)a : ((int)a == int.MinValue && (int)b == -1) ? 0 : (int)a % (int)b;
                break;
            default: result = b == 0 ? (int)a : (int)(a % b); break;
        }

        return (ulong)(long)result;
    }

    private StepResult ExecuteAtomic(uint inst)
    {
        uint f3 = (inst >> 12) & 7;
        if (f3 != 2 && f3 != 3)
        {
            return StepResult.Illegal;
        }

        int size = f3 == 2 ? 4 : 8;
        uint funct5 = inst >> 27;
        if (funct5 is not (0x00 or 0x01 or 0x02 or 0x03 or 0x04 or 0x08 or 0x0C or 0x10 or 0x14 or 0x18 or 0x1C))
        {
            return StepResult.Illegal; // reserved encoding: decoded before any memory access or fault
        }

        int rd = (int)((inst >> 7) & 31);
        ulong va = _x[(inst >> 15) & 31];
        ulong src = _x[(inst >> 20) & 31];

        if (funct5 == 0x02) // LR
        {
            if (((inst >> 20) & 31) != 0)
            {
                return StepResult.Illegal;
            }

            if (!TranslateAtomic(va, size, isLoadReserved: true, out ulong pa) || !PhysicalRead(pa, size, va, AccessType.Read, out ulong loaded))
            {
                return StepResult.Trap;
            }

            _reservation = pa;
            _x[rd] = size == 4 ? (ulong)(long)(int)loaded : loaded;
            return StepResult.Next;
        }

        if (!TranslateAtomic(va, size, isLoadReserved: false, out ulong address))
        {
            return StepResult.Trap;
        }

        if (funct5 == 0x03) // SC
        {
            bool success = _reservation == address;
            _reservation = ulong.MaxValue;
            if (success && !PhysicalWrite(address, size, src, va))
            {
                return StepResult.Trap;
            }

            _x[rd] = success ? 0UL : 1UL;
            return StepResult.Next;
        }

        if (!PhysicalRead(address, size, va, AccessType.Write, out ulong old))
        {
            return StepResult.Trap;
        }

        if (size == 4)
        {
            old = (ulong)(long)(int)old;
            src = (ulong)(long)(int)src;
        }

        ulong result;
        switch (funct5)
        {
            case 0x01: result = src; break;
            case 0x00: result = old + src; break;
            case 0x04: result = old ^ src; break;
            case 0x0C: result = old & src; break;
            case 0x08: result = old | src; break;
            case 0x10: result = (long)old < (long)src ? old : src; break;
            case 0x14: result = (long)old > (long)src ? old : src; break;
            case 0x18: result = (size == 4 ? (uint)old < (uint)src : old < src) ? old : src; break;
            case 0x1C: result = (size == 4 ? (uint)old > (uint)src : old > src) ? old : src; break;
            default: return StepResult.Illegal;
        }

        if (!PhysicalWrite(address, size, result, va))
        {
            return StepResult.Trap;
        }

        if (_reservation == address)
        {
            _reservation = ulong.MaxValue;
        }

        _x[rd] = old;
        return StepResult.Next;
    }

    private StepResult ExecuteSystem(uint inst, ulong pc, ref ulong next)
    {
        uint f3 = (inst >> 12) & 7;
        if (f3 != 0)
        {
            return f3 == 4 ? StepResult.Illegal : ExecuteCsr(inst) ? StepResult.Next : StepResult.Illegal;
        }

        switch (inst)
        {
            case 0x00000073: // ECALL
                if (_mode == PrivilegeMode.Supervisor && Firmware is not null)
                {
                    _pc = pc;
                    Firmware.HandleSupervisorCall(this);
                    _breakQuantum = true;
                    return StepResult.Next;
                }

                _trapValue = 0;
                _trapCause = _mode switch
                {
                    PrivilegeMode.User => TrapCause.EnvironmentCallFromU,
                    PrivilegeMode.Supervisor => TrapCause.EnvironmentCallFromS,
                    _ => TrapCause.EnvironmentCallFromM,
                };
                return StepResult.Trap;
            case 0x00100073: // EBREAK
                _trapCause = TrapCause.Breakpoint;
                _trapValue = pc;
                return StepResult.Trap;
            case 0x30200073: // MRET
                if (_mode != PrivilegeMode.Machine)
                {
                    return StepResult.Illegal;
                }

                next = ExecuteMret();
                return StepResult.Jump;
            case 0x10200073: // SRET
                if (_mode == PrivilegeMode.User || (_mode == PrivilegeMode.Supervisor && (_mstatus & MstatusBits.TSR) != 0))
                {
                    return StepResult.Illegal;
                }

                next = ExecuteSret();
                return StepResult.Jump;
            case 0x10500073: // WFI
                if (_mode == PrivilegeMode.User || (_mode == PrivilegeMode.Supervisor && (_mstatus & MstatusBits.TW) != 0))
                {
                    return StepResult.Illegal;
                }

                if ((_mip & _mie) == 0)
                {
                    State = HartState.WaitingForInterrupt;
                }

                _breakQuantum = true;
                return StepResult.Next;
        }

        if ((inst >> 25) == 0x09 && ((inst >> 7) & 31) == 0) // SFENCE.VMA
        {
            if (_mode == PrivilegeMode.User || (_mode == PrivilegeMode.Supervisor && (_mstatus & MstatusBits.TVM) != 0))
            {
                return StepResult.Illegal;
            }

            uint rs1 = (inst >> 15) & 31;
            if (rs1 == 0)
            {
                FlushTlbAll(includeIdentity: false);
            }
            else
            {
                FlushTlbPage(_x[rs1]);
            }

            return StepResult.Next;
        }

        return StepResult.Illegal;
    }
}
