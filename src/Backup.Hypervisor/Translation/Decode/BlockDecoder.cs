using Backup.Hypervisor.Cpu;

namespace Backup.Hypervisor.Translation.Decode;

/// <summary>
/// Finds the extent of a translatable block in guest memory: the instructions from a start address along the
/// fall-through path (a taken conditional branch leaves it), through JALs to new instructions of the same page, up
/// to and including the first JALR, JAL out of the page or back into the block, or conditional branch back into
/// the block (a loop's latch); at most <see cref="MaxInstructions"/>, all in one 4 KiB page (so a block depends on
/// one physical page and one fetch permission). Instructions the translator leaves to the interpreter end a block before
/// them: SYSTEM (CSRs, ECALL, xRET, WFI, SFENCE.VMA), FENCE.I, illegal or reserved encodings, and an instruction
/// that straddles the page end. The legality checks mirror the interpreter's exactly, so a translated
/// instruction never behaves differently from an interpreted one.
/// </summary>
internal static unsafe class BlockDecoder
{
    /// <summary>Longest block, in instructions: bounds compile size and the work between interrupt checks.</summary>
    public const int MaxInstructions = 64;

    /// <summary>
    /// Decodes the block at <paramref name="pc"/>; <paramref name="code"/> points at the host copy of the byte at
    /// <paramref name="pc"/> inside its page. Empty when the first instruction is not translatable.
    /// </summary>
    public static DecodedInstruction[] Decode(byte* code, ulong pc)
    {
        var list = new List<DecodedInstruction>();
        Walk(code, pc, list);
        return [.. list];
    }

    /// <summary>The number of instructions <see cref="Decode"/> would return, without allocating.</summary>
    public static int MeasureLength(byte* code, ulong pc) => Walk(code, pc, null);

    private static int Walk(byte* code, ulong pc, List<DecodedInstruction>? into)
    {
        int count = 0;
        int offset = (int)(pc & 0xFFF);
        int start = offset;
        Span<short> seen = stackalloc short[MaxInstructions]; // page offsets of the instructions so far
        while (count < MaxInstructions && offset <= 0xFFE)
        {
            uint low = *(ushort*)(code + (offset - start));
            uint inst;
            int length;
            if ((low & 3) != 3)
            {
                inst = CompressedExpander.Expand(low);
                length = 2;
            }
            else
            {
                if (offset > 0xFFC)
                {
                    break; // straddles the page end
                }

                inst = *(uint*)(code + (offset - start));
                length = 4;
            }

            var kind = Classify(inst);
            if (kind == Kind.Untranslatable)
            {
                break;
            }

            into?.Add(new DecodedInstruction(pc + (ulong)(offset - start), inst, length));
            seen[count++] = (short)offset;
            if ((inst & 0x7F) == 0x6F)
            {
                // JAL: the block follows it to its target when that is a new instruction of the same page (the
                // jump is then just its link register write); otherwise the block ends here.
                long target = offset + JumpOffset(inst);
                if (target is < 0 or > 0xFFE || seen[..count].Contains((short)target))
                {
                    break;
                }

                offset = (int)target;
                continue;
            }

            if (kind == Kind.EndsBlock)
            {
                break;
            }

            if ((inst & 0x7F) == 0x63 && seen[..count].Contains((short)(offset + BranchOffset(inst))))
            {
                // A conditional branch back to an instruction of the block (a loop's latch) ends the block: the
                // loop then is a method of its own, whose few live registers the JIT keeps in host registers, and
                // the code after the loop is a block the loop chains into.
                break;
            }

            offset += length;
        }

        return count;
    }

    private static long BranchOffset(uint inst) =>
        ((long)(int)(inst & 0x8000_0000) >> 19) | ((inst & 0x80) << 4) | ((inst >> 20) & 0x7E0) | ((inst >> 7) & 0x1E);

    private static long JumpOffset(uint inst) =>
        ((long)(int)(inst & 0x8000_0000) >> 11) | (inst & 0xFF000) | ((inst >> 9) & 0x800) | ((inst >> 20) & 0x7FE);

    private enum Kind
    {
        Straight,
        EndsBlock,
        Untranslatable,
    }

    private static Kind Classify(uint inst)
    {
        if (inst == 0)
        {
            return Kind.Untranslatable; // reserved compressed encoding (expander returned 0)
        }

        uint f3 = (inst >> 12) & 7;
        uint f7 = inst >> 25;
        bool legal;
        switch (inst & 0x7F)
        {
            case 0x13: // OP-IMM
                legal = f3 switch
                {
                    1 => (inst >> 26) == 0,
                    5 => (inst >> 26) is 0 or 0x10,
                    _ => true,
                };
                break;
            case 0x33: // OP
                legal = f7 == 0 || f7 == 1 || (f7 == 0x20 && f3 is 0 or 5);
                break;
            case 0x1B: // OP-IMM-32
                legal = f3 == 0 || (f3 == 1 && f7 == 0) || (f3 == 5 && f7 is 0 or 0x20);
                break;
            case 0x3B: // OP-32
                legal = f7 switch
                {
                    0 => f3 is 0 or 1 or 5,
                    0x20 => f3 is 0 or 5,
                    1 => f3 is not (1 or 2 or 3),
                    _ => false,
                };
                break;
            case 0x03: // LOAD
                legal = f3 != 7;
                break;
            case 0x23: // STORE
                legal = f3 <= 3;
                break;
            case 0x37: // LUI
            case 0x17: // AUIPC
                legal = true;
                break;
            case 0x0F: // MISC-MEM: FENCE is a no-op here; FENCE.I is left to the interpreter
                legal = f3 == 0;
                break;
            case 0x07 or 0x27 or 0x43 or 0x47 or 0x4B or 0x4F or 0x53: // F and D (FS and a dynamic rm are checked when they run)
                legal = FloatDecoding.Classify(inst) != FloatForm.Illegal;
                break;
            case 0x2F: // AMO, LR, SC: left to the interpreter (rare, and never worth a call out of compiled code)
                return Kind.Untranslatable;
            case 0x63: // BRANCH: taken is a side exit, the block goes on along the fall-through path
                return f3 is 2 or 3 ? Kind.Untranslatable : Kind.Straight;
            case 0x6F: // JAL
                return Kind.EndsBlock;
            case 0x67: // JALR
                return f3 == 0 ? Kind.EndsBlock : Kind.Untranslatable;
            default: // SYSTEM and everything else
                return Kind.Untranslatable;
        }

        return legal ? Kind.Straight : Kind.Untranslatable;
    }
}
