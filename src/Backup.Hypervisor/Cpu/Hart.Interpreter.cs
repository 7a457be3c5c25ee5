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

    /// <summary>Hook for FENCE.I (instruction caches of a translating tier are invalidated here).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void OnFenceI()
    {
        // A store to a page holding translated code already invalidated it at the store (PageWriteTracker), and
        // FENCE.I is never translated, so the next block lookup sees the new code; the jump cache is dropped too.
        _fetchTag = TlbEntry.InvalidTag;
        _translation?.FlushJumpCache();
    }

    private enum StepResult
    {
        Next,
        Jump,
        Trap,
        Illegal,
    }
}
