using Backup.Hypervisor.Mmu;
using Backup.Hypervisor.Translation;
using Backup.Hypervisor.Translation.Cache;

namespace Backup.Hypervisor.Cpu;

/// <summary>
/// The translated tier's side of the hart: the block dispatcher and the helpers compiled blocks call for slow
/// loads, stores and atomics. Everything architectural still happens in the hart's own code (traps, CSRs, the MMU),
/// so both execution modes share one implementation of every corner case.
/// </summary>
public sealed unsafe partial class Hart
{
    /// <summary>Entries per TLB set and access type (translated code indexes the sets directly).</summary>
    internal const int TlbEntries = TlbSize;

    private TranslationCache? _translation;

    /// <summary>How this hart executes guest code.</summary>
    public ExecutionMode ExecutionMode => _translation is null ? ExecutionMode.Interpreter : ExecutionMode.Translated;

    /// <summary>What the translating tier did so far (all zero in interpreter mode).</summary>
    public TranslationStatistics TranslationStatistics => _translation?.Statistics ?? default;

    /// <summary>
    /// Switches the hart to the translating tier (before it runs; the mode of a hart never changes back). A block is
    /// compiled after <paramref name="hotThreshold"/> interpreted runs (1 compiles everything on first sight: tests).
    /// </summary>
    public void EnableTranslation(int hotThreshold = TranslationCache.DefaultHotThreshold)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(hotThreshold, 1);
        _translation ??= new TranslationCache(this, _ram, hotThreshold);
    }

    /// <summary>
    /// The translated run loop: runs hot blocks compiled, everything else through the interpreter one block at a
    /// time, and stops exactly where the interpreter would (budget, <c>_breakQuantum</c>, fatal error), so quanta,
    /// interrupts and deterministic checkpoints fall on the same instruction in both modes.
    /// </summary>
    private int RunTranslated(int budget)
    {
        var cache = _translation!;
        ulong* x = _x;
        int used = 0;
        while (used < budget)
        {
            ulong pc = _pc;
            TlbEntry* fetch = _fetchTlb + (int)((pc >> 12) & TlbMask);
            if (fetch->Tag != pc >> 12)
            {
                // Not mapped for fetch yet: the interpreter walks the page table (or takes the fetch fault).
                used += Interpret(1);
            }
            else
            {
                var block = cache.Lookup(pc, (byte*)(fetch->Addend + (long)pc));
                int remaining = budget - used;
                if (block.Function is null && block.Length > 0 && ++block.Executions >= cache.HotThreshold)
                {
                    cache.Compile(block);
                }

                if (block.Function is { } function && block.Length <= remaining)
                {
                    int result = function(this, x);
                    cache.BlockRuns++;
                    if (result > 0)
                    {
                        used += result;
                        cache.InstructionsTranslated += result;
                    }
                    else
                    {
                        used -= result;
                        cache.InstructionsTranslated -= result + 1;
                        x[0] = 0;
                        _pc = TakeTrap(_pc);
                    }
                }
                else
                {
                    used += Interpret(Math.Min(Math.Max(block.Length, 1), remaining));
                }
            }

            if (_breakQuantum || FatalError is not null)
            {
                break;
            }
        }

        return used;
    }

    /// <summary>A translated block's load that missed the inline TLB probe: 0 done, 1 trapped, 2 done but the block must stop.</summary>
    internal int LoadForBlock(ulong va, uint f3, out ulong value)
    {
        int generation = _translation!.CodeGeneration;
        if (!LoadSlow(va, f3, out value))
        {
            return 1;
        }

        return _breakQuantum || generation != _translation.CodeGeneration ? 2 : 0;
    }

    /// <summary>A translated block's store that missed the inline TLB probe: 0 done, 1 trapped, 2 done but the block must stop.</summary>
    internal int StoreForBlock(ulong va, int size, ulong value)
    {
        int generation = _translation!.CodeGeneration;
        if (!StoreSlow(va, size, value))
        {
            return 1;
        }

        return _breakQuantum || generation != _translation.CodeGeneration ? 2 : 0;
    }

    /// <summary>A translated block's AMO/LR/SC (registers in the register file): 0 done, 1 trapped, 2 done but the block must stop.</summary>
    internal int AtomicForBlock(uint inst)
    {
        int generation = _translation!.CodeGeneration;
        switch (ExecuteAtomic(inst))
        {
            case StepResult.Trap:
                _x[0] = 0;
                return 1;
            case StepResult.Illegal:
                _trapCause = TrapCause.IllegalInstruction;
                _trapValue = inst;
                _x[0] = 0;
                return 1;
        }

        _x[0] = 0;
        return _breakQuantum || generation != _translation.CodeGeneration ? 2 : 0;
    }

    /// <summary>Drops every cached write permission that leads to the host page at <paramref name="hostPage"/> (it now holds translated code).</summary>
    internal void DropWritePermission(byte* hostPage)
    {
        for (int set = 0; set < TlbSets; set++)
        {
            TlbEntry* entries = _tlbBase + (((set * TlbTypes) + (int)AccessType.Write) * TlbSize);
            for (int i = 0; i < TlbSize; i++)
            {
                TlbEntry* e = entries + i;
                if (e->Tag != TlbEntry.InvalidTag && (byte*)(e->Addend + (long)(e->Tag << 12)) == hostPage)
                {
                    e->Tag = TlbEntry.InvalidTag;
                }
            }
        }
    }
}
