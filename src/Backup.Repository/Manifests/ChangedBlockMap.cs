namespace Backup.Repository.Manifests;

/// <summary>
/// Which fixed chunks of a disk differ from the same disk in the parent restore point: ranges of
/// <c>[first chunk, count]</c>. No parent means every chunk is new.
/// </summary>
public sealed record ChangedBlockMap
{
    /// <summary>The restore point compared with, or null for a first backup.</summary>
    public string? Parent { get; init; }

    /// <summary>Changed chunk ranges, ascending: each is [first chunk index, chunk count].</summary>
    public IReadOnlyList<long[]> Ranges { get; init; } = [];

    /// <summary>Total number of changed chunks.</summary>
    public long ChangedChunks => Ranges.Sum(range => range[1]);
}
