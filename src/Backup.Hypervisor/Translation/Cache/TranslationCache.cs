using System.Collections.Concurrent;
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
/// drop the jump cache). The interpreter (after each branch or jump) and the dispatcher count arrivals per block
/// start in <see cref="Heat"/>; a block whose count reaches <see cref="HotThreshold"/> is compiled; its page is then marked as code in the <see cref="PageWriteTracker"/>, so the first
/// write to the page, from any hart or device, invalidates every block compiled from it.
/// </summary>
internal sealed unsafe class TranslationCache : ICodePageObserver
{
    /// <summary>Arrivals (after branches and jumps) at a block before it is compiled, unless the hart says otherwise.</summary>
    public const int DefaultHotThreshold = 5000;

    private const int JumpCacheSize = 1 << 14;

    /// <summary>Heat counters are indexed by (virtual pc &gt;&gt; 1) &amp; HeatMask (collisions only make code hot sooner).</summary>
    public const int HeatMask = (1 << 14) - 1;

    private readonly Hart _hart;
    private readonly GuestRam _ram;
    private readonly Dictionary<(ulong Physical, ulong Virtual), TranslatedBlock> _blocks = [];
    private readonly Dictionary<ulong, List<TranslatedBlock>> _byPage = [];
    private readonly TranslatedBlock?[] _jumpCache = new TranslatedBlock?[JumpCacheSize];
    private readonly List<BlockFunction> _retiredCode = [];

    private long _blocksCompiled, _instructionsCompiled, _compileTicks, _pagesInvalidated, _blocksInvalidated;

    public TranslationCache(Hart hart, GuestRam ram, int hotThreshold, bool background)
    {
        _hart = hart;
        _ram = ram;
        HotThreshold = hotThreshold;
        Background = background;
        ram.Tracker.AddCodeObserver(this);
    }

    /// <summary>Arrivals (after branches and jumps) at a block before it is compiled.</summary>
    public int HotThreshold { get; }

    /// <summary>True: hot blocks are compiled by <see cref="BackgroundCompiler"/> while the guest runs on interpreted.</summary>
    public bool Background { get; }

    /// <summary>How often execution arrived at each (hashed) block start after a branch or jump; a block is compiled at <see cref="HotThreshold"/>.</summary>
    public ushort[] Heat { get; } = new ushort[HeatMask + 1];

    /// <summary>Blocks the background compiler finished; installed by <see cref="InstallCompleted"/> on the hart's thread.</summary>
    public ConcurrentQueue<CompiledBlock> Completed { get; } = new();

    /// <summary>Bumped whenever translated code is invalidated: a block that sees it change stops after the current instruction.</summary>
    public int CodeGeneration { get; private set; }

    /// <summary>Blocks run (counted by the hart's dispatcher).</summary>
    public long BlockRuns { get; set; }

    /// <summary>Instructions executed by compiled blocks (counted by the hart's dispatcher).</summary>
    public long InstructionsTranslated { get; set; }

    /// <summary>The figures so far; <paramref name="chained"/> is the hart's count of chained block runs.</summary>
    public TranslationStatistics Statistics(long chained) => new(
        _blocksCompiled, _instructionsCompiled, Stopwatch.GetElapsedTime(0, _compileTicks), BlockRuns + chained, InstructionsTranslated, _pagesInvalidated, _blocksInvalidated, chained);

    /// <summary>
    /// Forgets the code of blocks invalidated since the last call (called by the dispatcher when no compiled code
    /// is running: an invalidated block may still be executing until it reaches its next exit).
    /// </summary>
    public void ReleaseRetiredCode()
    {
        if (_retiredCode.Count > 0)
        {
            _retiredCode.Clear();
        }
    }

    /// <summary>The block at virtual <paramref name="pc"/>, whose bytes the fetch TLB places at <paramref name="host"/>.</summary>
    public TranslatedBlock Lookup(ulong pc, byte* host)
    {
        int slot = (int)((pc >> 1) & (JumpCacheSize - 1));
        var block = _jumpCache[slot];
        if (block is not null && block.Virtual == pc && block.Host == host)
        {
            return block;
        }

        block = GetOrCreate(_ram.Base + (ulong)(host - _ram.Pointer), pc, host);
        _jumpCache[slot] = block;
        return block;
    }

    private TranslatedBlock GetOrCreate(ulong physical, ulong pc, byte* host)
    {
        if (!_blocks.TryGetValue((physical, pc), out var block))
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

        return block;
    }

    /// <summary>
    /// Compiles <paramref name="block"/> from its current bytes (now, or queued to the background compiler) and
    /// marks its page as code first, so a write from here on invalidates the result. Returns false when the code
    /// there is not translatable (the block then stays interpreted).
    /// </summary>
    public bool Compile(TranslatedBlock block)
    {
        long start = Stopwatch.GetTimestamp();
        _ram.Tracker.ProtectCode((block.Physical - _ram.Base) >> PageWriteTracker.PageShift);
        var instructions = BlockDecoder.Decode(block.Host, block.Virtual);
        block.Length = instructions.Length;
        if (instructions.Length == 0)
        {
            return false;
        }

        if (Background)
        {
            block.Queued = true;
            BackgroundCompiler.Enqueue(this, block, instructions);
            return true;
        }

        var code = BlockEmitter.Emit(instructions, block); // emits and JIT-compiles now, so its cost is measured here
        Install(new CompiledBlock(block, code, instructions.Length, Stopwatch.GetTimestamp() - start));
        return true;
    }

    /// <summary>Installs what the background compiler finished (called by the hart between blocks).</summary>
    public void InstallCompleted()
    {
        while (Completed.TryDequeue(out var compiled))
        {
            Install(compiled);
        }
    }

    private void Install(CompiledBlock compiled)
    {
        _compileTicks += compiled.CompileTicks;
        _blocksCompiled++;
        _instructionsCompiled += compiled.Instructions;
        var block = compiled.Block;
        if (block.Valid)
        {
            // Still matches guest memory: any write to the page since it was protected invalidated the block.
            // Its static exits within the page get their target blocks (created cold if new), so the code chains
            // into each once that one is compiled too; a write to the page invalidates them all together.
            var targets = compiled.Code.ExitTargets;
            var exits = new TranslatedBlock?[targets.Length];
            for (int e = 0; e < targets.Length; e++)
            {
                long offset = (long)(targets[e] - block.Virtual);
                exits[e] = GetOrCreate(block.Physical + (ulong)offset, targets[e], block.Host + offset);
            }

            block.Exits = exits;
            block.Function = compiled.Code.Function;
        }
    }

    /// <summary>Forgets every mapping shortcut (satp write, SFENCE.VMA, FENCE.I); compiled blocks stay cached by physical address.</summary>
    public void FlushJumpCache() => Array.Clear(_jumpCache);

    /// <summary>Drops all translated code (the hart's state was replaced by a checkpoint restore).</summary>
    public void Clear()
    {
        foreach (var block in _blocks.Values)
        {
            Retire(block);
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
            Retire(block);
            _blocks.Remove((block.Physical, block.Virtual));
            Heat[(int)((block.Virtual >> 1) & HeatMask)] = 0; // the new code has to become hot again
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

    /// <summary>A block whose code no longer matches guest memory: nothing may enter it again, and its code is freed once it cannot be running.</summary>
    private void Retire(TranslatedBlock block)
    {
        block.Valid = false;
        if (block.Function is { } code)
        {
            _retiredCode.Add(code);
            block.Function = null;
        }
    }
}
