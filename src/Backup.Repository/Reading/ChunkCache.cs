using Backup.Repository.Blobs;

namespace Backup.Repository.Reading;

/// <summary>
/// A bounded, least-recently-used cache of opened chunks, so random reads that hit the same chunk (a booting VM
/// reading sector by sector) fetch and decrypt it once. Thread-safe.
/// </summary>
public sealed class ChunkCache
{
    private readonly long _capacityBytes;
    private readonly Dictionary<BlobId, LinkedListNode<(BlobId Id, byte[] Content)>> _entries = [];
    private readonly LinkedList<(BlobId Id, byte[] Content)> _recency = new();
    private readonly Lock _lock = new();
    private long _bytes;

    public ChunkCache(long capacityBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacityBytes);
        _capacityBytes = capacityBytes;
    }

    /// <summary>Chunks served from the cache.</summary>
    public long Hits { get; private set; }

    /// <summary>Chunks that had to be fetched.</summary>
    public long Misses { get; private set; }

    public bool TryGet(BlobId id, out byte[] content)
    {
        lock (_lock)
        {
            if (_entries.TryGetValue(id, out var node))
            {
                _recency.Remove(node);
                _recency.AddFirst(node);
                Hits++;
                content = node.Value.Content;
                return true;
            }

            Misses++;
            content = [];
            return false;
        }
    }

    public void Add(BlobId id, byte[] content)
    {
        ArgumentNullException.ThrowIfNull(content);
        lock (_lock)
        {
            if (_entries.ContainsKey(id) || content.Length > _capacityBytes)
            {
                return;
            }

            _entries[id] = _recency.AddFirst((id, content));
            _bytes += content.Length;
            while (_bytes > _capacityBytes && _recency.Last is { } last)
            {
                _recency.RemoveLast();
                _entries.Remove(last.Value.Id);
                _bytes -= last.Value.Content.Length;
            }
        }
    }
}
