using System.Collections.Concurrent;
using Backup.Repository.Blobs;

namespace Backup.Repository.Index;

/// <summary>
/// The in-memory index: the union of all index files (format §7), mapping blob ids to their packs.
/// Safe for concurrent readers and writers.
/// </summary>
public sealed class RepositoryIndex
{
    private readonly ConcurrentDictionary<BlobId, BlobLocation> _blobs = new();
    private readonly ConcurrentDictionary<BlobId, IndexedPack> _packs = new();

    /// <summary>Number of distinct blobs.</summary>
    public int BlobCount => _blobs.Count;

    /// <summary>All indexed packs.</summary>
    public IReadOnlyCollection<IndexedPack> Packs => (IReadOnlyCollection<IndexedPack>)_packs.Values;

    /// <summary>Adds a pack and its blobs. A blob already indexed in another pack keeps its first location.</summary>
    public void Add(IndexedPack pack)
    {
        ArgumentNullException.ThrowIfNull(pack);
        _packs[pack.PackId] = pack;
        foreach (var entry in pack.Entries)
        {
            _blobs.TryAdd(entry.Id, new BlobLocation(pack, entry));
        }
    }

    /// <summary>Forgets everything (before reloading the index files after gc).</summary>
    internal void Clear()
    {
        _blobs.Clear();
        _packs.Clear();
    }

    /// <summary>True when the blob is indexed.</summary>
    public bool Contains(BlobId id) => _blobs.ContainsKey(id);

    /// <summary>Finds a blob's location.</summary>
    public bool TryGet(BlobId id, out BlobLocation location) => _blobs.TryGetValue(id, out location);
}
