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

    // Blocks entered straight from another block's code (chained), counted by compiled code.
    internal long _blocksChained;

    // The translating tier's heat counters (by virtual target pc) and threshold, read by the interpreter at taken
    // branches and jumps; null in interpreter mode.
    private ushort[]? _heat;
    private int _hotThreshold;

    /// <summary>How this hart executes guest code.</summary>
    public ExecutionMode ExecutionMode => _translation is null ? ExecutionMode.Interpreter : ExecutionMode.Translated;

    /// <summary>What the translating tier did so far (all zero in interpreter mode).</summary>
    public TranslationStatistics TranslationStatistics => _translation?.Statistics(_blocksChained) ?? default;

    /// <summary>
    /// Switches the hart to the translating tier (before it runs; the mode of a hart never changes back). A block is
    /// compiled once taken branches or jumps landed on it <paramref name="hotThreshold"/> times (1: on the second
    /// arrival, which tests use to run nearly everything compiled).
    /// </summary>
    public void EnableTranslation(int hotThreshold = TranslationCache.DefaultHotThreshold) => EnableTranslation(hotThreshold, background: false);

    /// <summary>
    /// As <see cref="EnableTranslation(int)"/>; with <paramref name="background"/> hot blocks are compiled on a
    /// worker thread while the guest runs on interpreted (what a VM does), otherwise at once on this thread.
    /// </summary>
    internal void EnableTranslation(int hotThreshold, bool background)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(hotThreshold, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(hotThreshold, ushort.MaxValue);
        if (_translation is null)
        {
            _translation = new TranslationCache(this, _ram, hotThreshold, background);
            _heat = _translation.Heat;
            _hotThreshold = hotThreshold;
        }
    }

    /// <summary>
    /// The translated run loop: runs compiled blocks back to back; everything else runs in the interpreter, which
    /// comes back here when a branch or jump leads to a hot block (see <c>Jumped</c> in the interpreter). It
    /// stops exactly where the interpreter would (budget, <c>_breakQuantum</c>, fatal error), so quanta, interrupts
    /// and deterministic checkpoints fall on the same instruction in both modes.
    /// </summary>
    private int RunTranslated(int budget)
    {
        var cache = _translation!;
        cache.ReleaseRetiredCode(); // no compiled code is running now
        if (!cache.Completed.IsEmpty)
        {
            cache.InstallCompleted();
        }

        ulong* x = _x;
        ushort[] heat = _heat!;
        int used = 0;
        while (used < budget)
        {
            ulong pc = _pc;
            int remaining = budget - used;
            TlbEntry* fetch = _fetchTlb + (int)((pc >> 12) & TlbMask);
            if (fetch->Tag != pc >> 12)
            {
                // Not mapped for fetch yet: the interpreter walks the page table (or takes the fetch fault).
                used += Interpret(remaining);
            }
            else
            {
                var block = cache.Lookup(pc, (byte*)(fetch->Addend + (long)pc));
                if (block.Function is null && !block.Queued)
                {
                    ref ushort h = ref heat[(int)((pc >> 1) & TranslationCache.HeatMask)];
                    if (h < _hotThreshold)
                    {
                        h++;
                    }
                    else if (block.Length == 0)
                    {
                        h = 0; // not translatable: let the interpreter run through here for a while
                    }
                    else
                    {
                        cache.Compile(block);
                        if (block.Queued)
                        {
                            h = 0; // until the background compiler is done, the interpreter need not stop here
                        }
                    }
                }

                if (block.Function is { } function && block.Length <= remaining)
                {
                    // The block, and the blocks it chains into, run until one exits to here.
                    int left = function(this, x, remaining);
                    cache.BlockRuns++;
                    bool step = left < 0;
                    if (step)
                    {
                        left = ~left;
                    }

                    used += remaining - left;
                    cache.InstructionsTranslated += remaining - left;
                    if (step)
                    {
                        // Compiled code left this load or store to the interpreter (TLB miss, MMIO, code page, page
                        // end): it runs here with all its side effects, traps included.
                        used += Interpret(1);
                    }
                }
                else
                {
                    used += Interpret(remaining);
                }
            }

            if (_breakQuantum || FatalError is not null)
            {
                break;
            }
        }

        return used;
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
