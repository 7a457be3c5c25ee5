namespace Backup.Hypervisor.Translation.Cache;

/// <summary>
/// What one hart's translating tier did: compiled blocks, compile cost, block runs (<see cref="BlockRuns"/> counts
/// every run, <see cref="ChainedBlockRuns"/> those entered straight from another block's code rather than from the
/// dispatcher), and invalidations.
/// </summary>
public readonly record struct TranslationStatistics(
    long BlocksCompiled,
    long InstructionsCompiled,
    TimeSpan CompileTime,
    long BlockRuns,
    long InstructionsTranslated,
    long PagesInvalidated,
    long BlocksInvalidated,
    long ChainedBlockRuns = 0)
{
    /// <summary>Average compile (IL emission plus JIT) time per block.</summary>
    public TimeSpan CompileTimePerBlock => BlocksCompiled == 0 ? TimeSpan.Zero : CompileTime / BlocksCompiled;

    /// <summary>Adds two harts' figures.</summary>
    public TranslationStatistics Add(TranslationStatistics other) => new(
        BlocksCompiled + other.BlocksCompiled,
        InstructionsCompiled + other.InstructionsCompiled,
        CompileTime + other.CompileTime,
        BlockRuns + other.BlockRuns,
        InstructionsTranslated + other.InstructionsTranslated,
        PagesInvalidated + other.PagesInvalidated,
        BlocksInvalidated + other.BlocksInvalidated,
        ChainedBlockRuns + other.ChainedBlockRuns);
}
