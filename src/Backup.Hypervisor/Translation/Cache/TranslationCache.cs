using System.Diagnostics;
using Backup.Hypervisor.Cpu;
using Backup.Hypervisor.Memory;
using Backup.Hypervisor.Translation.Decode;
using Backup.Hypervisor.Translation.Emit;

namespace Backup.Hypervisor.Translation.Cache;

/// <summary>
/// One hart's translated code. Blocks are keyed by the guest-physical address of their first instruction plus the
/// virtual address they were compiled for; a direct-mapped jump cache indexed by virtual pc finds the block for the
/// next pc without hashing, and every hit is checked against the host address the fetch TLB gives for that pc, so a
/// block is never reached through a mapping that changed (satp writes and SFENCE.VMA flush the fetch TLB, and also
/// drop the jump cache). A block is counted while it runs interpreted and compiled when it reaches
/// <see cref="HotThreshold"/>; its page is then marked as code in the <see cref="PageWriteTracker"/>, so the first
/// write to the page, from any hart or device, invalidates every block compiled from it.
/// </summary>
internal sealed unsafe class TranslationCache : ICodePageObserver
{
    /// <summary>Interpreted runs of a block before it is compiled, unless the hart says otherwise.</summary>
    public const int DefaultHotThreshold = 1000;

    private const int JumpCacheSize = 1 << 14;

    private readonly Hart _hart;
    private readonly GuestRam _ram;
    private readonly Dictionary<(ulong Physical, ulong Virtual), TranslatedBlock> _blocks = [];
    private readonly Dictionary<ulong, List<TranslatedBlock>> _byPage = [];
    private readonly TranslatedBlock?[] _jumpCache = new TranslatedBlock?[JumpCacheSize];

    private long _blocksCompiled, _instructionsCompiled, _compileTicks, _pagesInvalidated, _blocksInvalidated;

    public TranslationCache(Hart hart, GuestRam ram, int hotThreshold)
    {
        _hart = hart;
        _ram = ram;
        HotThreshold = hotThreshold;
        ram.Tracker.AddCodeObserver(this);
    }

    /// <summary>Interpreted runs of a block before it is compiled.</summary>
    public int HotThreshold { get; }

    /// <summary>Bumped whenever translated code is invalidated: a block that sees it change stops after the current instruction.</summary>
    public int CodeGeneration { get; private set; }

    /// <summary>Blocks run (counted by the hart's dispatcher).</summary>
    public long BlockRuns { get; set; }

    /// <summary>Instructions executed by compiled blocks (counted by the hart's dispatcher).</summary>
    public long InstructionsTranslated { get; set; }

    public TranslationStatistics Statistics => new(
        _blocksCompiled, _instructionsCompiled, Stopwatch.GetElapsedTime(0, _compileTicks), BlockRuns, InstructionsTranslated, _pagesInvalidated, _blocksInvalidated);

    /// <summary>The block at virtual <paramref name="pc"/>, whose bytes the fetch TLB places at <paramref name="host"/>.</summary>
    public TranslatedBlock Lookup(ulong pc, byte* host)
    {
        int slot = (int)((pc >> 1) & (JumpCacheSize - 1));
        var block = _jumpCache[slot];
        if (block is not null && block.Virtual == pc && block.Host == host)
        {
            return block;
        }

        ulong physical = _ram.Base + (ulong)(host - _ram.Pointer);
        if (!_blocks.TryGetValue((physical, pc), out block))
        {
            block = new TranslatedBlock(physical, pc, host, BlockDecoder.MeasureLength(host, pc));
            _blocks.Add((physical, pc), block);
            ulong page = (physical - _ram.Base) >> PageWriteTracker.PageShift;
            if (!_byPage.TryGetValue(page, out var list))
            {
                _byPage[page] = list = [];
            }

            list.Add(block);
        }

        _jumpCache[slot] = block;
        return block;
    }

    /// <summary>
    /// Compiles <paramref name="block"/> from its current bytes and marks its page as code. Returns false when the
    /// code there is no longer translatable (the block then stays interpreted).
    /// </summary>
    public bool Compile(TranslatedBlock block)
    {
        long start = Stopwatch.GetTimestamp();
        var instructions = BlockDecoder.Decode(block.Host, block.Virtual);
        block.Length = instructions.Length;
        if (instructions.Length == 0)
        {
            return false;
        }

        var function = BlockEmitter.Emit(instructions);
        function(null, null); // JIT-compiles the method now, so its cost is measured here
        _compileTicks += Stopwatch.GetTimestamp() - start;
        _blocksCompiled++;
        _instructionsCompiled += instructions.Length;

        // Nothing ran between reading the bytes and protecting the page (compilation is synchronous), so the
        // compiled code matches the page; any later write invalidates it.
        _ram.Tracker.ProtectCode((block.Physical - _ram.Base) >> PageWriteTracker.PageShift);
        block.Function = function;
        return true;
    }

    /// <summary>Forgets every mapping shortcut (satp write, SFENCE.VMA, FENCE.I); compiled blocks stay cached by physical address.</summary>
    public void FlushJumpCache() => Array.Clear(_jumpCache);

    /// <summary>Drops all translated code (the hart's state was replaced by a checkpoint restore).</summary>
    public void Clear()
    {
        foreach (var block in _blocks.Values)
        {
            block.Valid = false;
        }

        _blocks.Clear();
        _byPage.Clear();
        FlushJumpCache();
        CodeGeneration++;
    }

    /// <inheritdoc />
    public void CodePageProtected(ulong page) =>
        _hart.DropWritePermission(_ram.Pointer + (page << PageWriteTracker.PageShift));

    /// <inheritdoc />
    public void CodePageWritten(ulong page)
    {
        if (!_byPage.Remove(page, out var list))
        {
            return;
        }

        foreach (var block in list)
        {
            block.Valid = false;
            block.Function = null;
            _blocks.Remove((block.Physical, block.Virtual));
            int slot = (int)((block.Virtual >> 1) & (JumpCacheSize - 1));
            if (ReferenceEquals(_jumpCache[slot], block))
            {
                _jumpCache[slot] = null;
            }
        }

        _pagesInvalidated++;
        _blocksInvalidated += list.Count;
        CodeGeneration++;
    }
}
