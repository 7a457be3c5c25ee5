using System.Collections.Concurrent;
using Backup.Repository.DirectIo;

namespace Backup.Repository.Packs;

/// <summary>
/// The memory a pack is assembled in: allocated on the pinned object heap with its start aligned for direct I/O, and
/// kept in a small process-wide pool, so packs after the first reuse memory the process has already touched (a fresh
/// 16 MiB array costs thousands of page faults, and the backend can write it to disk without copying it first).
/// </summary>
internal sealed class PackBuffer
{
    private const int MinimumLength = 17 * 1024 * 1024;
    private const int PoolLimit = 6;
    private static readonly ConcurrentBag<PackBuffer> Pool = [];
    private readonly AlignedBuffer _memory;

    private PackBuffer(int length) => _memory = new AlignedBuffer(length, DirectFile.Alignment);

    public int Length => _memory.Length;

    public Span<byte> Span => _memory.Span;

    public Memory<byte> Memory => _memory.Memory;

    /// <summary>A buffer of at least <paramref name="length"/> bytes, from the pool when one is large enough.</summary>
    public static PackBuffer Rent(long length)
    {
        if (length > Array.MaxLength - DirectFile.Alignment)
        {
            throw new InvalidOperationException($"a pack of {length} bytes is too large to assemble in memory");
        }

        for (var tries = 0; tries < PoolLimit && Pool.TryTake(out var pooled); tries++)
        {
            if (pooled.Length >= length)
            {
                return pooled;
            }

            // Too small for this pack: dropped (the garbage collector frees it); the pool refills with larger ones.
        }

        return new PackBuffer((int)DirectFile.RoundUp(Math.Max(length, MinimumLength)));
    }

    public void Return()
    {
        if (Pool.Count < PoolLimit)
        {
            Pool.Add(this);
        }
    }
}
