using System.Collections.Concurrent;
using System.Diagnostics;
using Backup.Hypervisor.Translation.Decode;
using Backup.Hypervisor.Translation.Emit;

namespace Backup.Hypervisor.Translation.Cache;

/// <summary>
/// Compiles blocks off the hart's thread: the hart decodes a hot block (cheap) and queues it; one process-wide
/// worker thread emits the IL and has the JIT compile it (the expensive part, a pure function of the decoded
/// instructions); the finished function goes back to the owning cache, which installs it at its next dispatch
/// unless the block was invalidated meanwhile. The guest never waits for the JIT.
/// </summary>
internal static unsafe class BackgroundCompiler
{
    private static readonly BlockingCollection<Job> Queue = [];
    private static readonly Lazy<Thread> Worker = new(() =>
    {
        var thread = new Thread(Work) { IsBackground = true, Name = "guest-code-compiler" };
        thread.Start();
        return thread;
    });

    /// <summary>Queues <paramref name="instructions"/> (decoded from <paramref name="block"/>) for compilation.</summary>
    public static void Enqueue(TranslationCache owner, TranslatedBlock block, DecodedInstruction[] instructions)
    {
        _ = Worker.Value;
        Queue.Add(new Job(owner, block, instructions));
    }

    private static void Work()
    {
        foreach (var job in Queue.GetConsumingEnumerable())
        {
            long start = Stopwatch.GetTimestamp();
            var code = BlockEmitter.Emit(job.Instructions, job.Block); // emits and JIT-compiles, on this thread
            job.Owner.Completed.Enqueue(new CompiledBlock(job.Block, code, job.Instructions.Length, Stopwatch.GetTimestamp() - start));
        }
    }

    private sealed record Job(TranslationCache Owner, TranslatedBlock Block, DecodedInstruction[] Instructions);
}

/// <summary>A block the background compiler finished, waiting to be installed by its hart.</summary>
internal sealed record CompiledBlock(TranslatedBlock Block, EmittedBlock Code, int Instructions, long CompileTicks);
