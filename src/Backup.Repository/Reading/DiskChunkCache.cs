using System.Globalization;
using Backup.Repository.Blobs;

namespace Backup.Repository.Reading;

/// <summary>
/// A persistent, size-bounded cache of chunks on local disk for random reads (booting a VM from a repository on S3
/// or Azure fetches each chunk once, across restarts). Entries are the chunks as stored in the repository, still
/// encrypted and authenticated, so the cache leaks nothing the repository does not and is verified on every read:
/// an entry that fails to decrypt or does not match its id is deleted and the chunk fetched again, never served.
/// When the entries exceed the capacity the least recently used are deleted (recency survives restarts through the
/// files' modification times).
/// <para>
/// One directory per repository (entries of another repository fail verification and are discarded). The directory is
/// locked while the cache is open: a second process opening it gets a clear error instead of sharing a size bound it
/// cannot see. Thread-safe.
/// </para>
/// </summary>
public sealed class DiskChunkCache : IDisposable
{
    private const string LockFileName = "cache.lock";
    private const string TemporarySuffix = ".tmp";
    private readonly Dictionary<BlobId, LinkedListNode<(BlobId Id, long Length)>> _entries = [];
    private readonly LinkedList<(BlobId Id, long Length)> _recency = new();
    private readonly Lock _lock = new();
    private readonly FileStream _lockFile;
    private long _bytes;
    private bool _disposed;

    /// <summary>
    /// Opens (creating it if needed) the cache in <paramref name="directory"/>, holding at most
    /// <paramref name="capacityBytes"/> of entries. Entries already there are kept, up to the capacity; leftovers of
    /// an interrupted write are deleted.
    /// </summary>
    public DiskChunkCache(string directory, long capacityBytes)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentOutOfRangeException.ThrowIfNegative(capacityBytes);
        Directory = Path.GetFullPath(directory);
        CapacityBytes = capacityBytes;
        System.IO.Directory.CreateDirectory(Directory);
        try
        {
            _lockFile = new FileStream(Path.Combine(Directory, LockFileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose);
        }
        catch (IOException exception)
        {
            throw new IOException($"chunk cache directory {Directory} is in use by another process (one process per cache directory)", exception);
        }

        Load();
    }

    /// <summary>The cache directory (absolute).</summary>
    public string Directory { get; }

    /// <summary>Most bytes of entries kept.</summary>
    public long CapacityBytes { get; }

    /// <summary>Bytes of entries held now.</summary>
    public long Bytes
    {
        get
        {
            lock (_lock)
            {
                return _bytes;
            }
        }
    }

    /// <summary>Entries held now.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>Reads served from the cache.</summary>
    public long Hits => Interlocked.Read(ref _hits);

    /// <summary>Reads the cache could not serve.</summary>
    public long Misses => Interlocked.Read(ref _misses);

    /// <summary>Entries found damaged (failed verification or unreadable) and deleted.</summary>
    public long Discarded => Interlocked.Read(ref _discarded);

    /// <summary>Entries deleted to stay within the capacity.</summary>
    public long Evicted => Interlocked.Read(ref _evicted);

    private long _hits;
    private long _misses;
    private long _discarded;
    private long _evicted;

    /// <summary>
    /// The stored (sealed) bytes of <paramref name="id"/>, or null when not cached. The caller must verify them and call
    /// <see cref="Discard"/> when they do not verify.
    /// </summary>
    public byte[]? TryRead(BlobId id)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        lock (_lock)
        {
            if (!_entries.TryGetValue(id, out var node))
            {
                _misses++;
                return null;
            }

            _recency.Remove(node);
            _recency.AddFirst(node);
        }

        var path = PathOf(id);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            Discard(id);
            Interlocked.Increment(ref _misses);
            return null;
        }

        Interlocked.Increment(ref _hits);
        return bytes;
    }

    /// <summary>Stores the sealed bytes of <paramref name="id"/> (already verified by the caller), evicting old entries.</summary>
    public void Add(BlobId id, ReadOnlySpan<byte> sealedBlob)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (sealedBlob.Length > CapacityBytes)
        {
            return;
        }

        lock (_lock)
        {
            if (_entries.ContainsKey(id))
            {
                return;
            }
        }

        var path = PathOf(id);
        var temporary = path + "." + Environment.CurrentManagedThreadId.ToString(CultureInfo.InvariantCulture) + "." + Guid.NewGuid().ToString("N")[..8] + TemporarySuffix;
        try
        {
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                file.Write(sealedBlob);
            }

            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            // A full or read-only cache disk costs speed, never a read: the chunk was already served from the repository.
            TryDelete(temporary);
            return;
        }

        var evict = new List<BlobId>();
        lock (_lock)
        {
            if (!_entries.ContainsKey(id))
            {
                _entries[id] = _recency.AddFirst((id, sealedBlob.Length));
                _bytes += sealedBlob.Length;
            }

            while (_bytes > CapacityBytes && _recency.Last is { } last)
            {
                _recency.RemoveLast();
                _entries.Remove(last.Value.Id);
                _bytes -= last.Value.Length;
                evict.Add(last.Value.Id);
            }
        }

        foreach (var old in evict)
        {
            TryDelete(PathOf(old));
            Interlocked.Increment(ref _evicted);
        }
    }

    /// <summary>Deletes the entry of <paramref name="id"/> (it failed verification).</summary>
    public void Discard(BlobId id)
    {
        lock (_lock)
        {
            if (_entries.Remove(id, out var node))
            {
                _recency.Remove(node);
                _bytes -= node.Value.Length;
                _discarded++;
            }
        }

        TryDelete(PathOf(id));
    }

    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            _lockFile.Dispose();
        }
    }

    private string PathOf(BlobId id)
    {
        var hex = id.ToString();
        return Path.Combine(Directory, hex[..2], hex);
    }

    /// <summary>Indexes the entries left by earlier runs, most recently used first; deletes what is not an entry.</summary>
    private void Load()
    {
        var found = new List<(BlobId Id, long Length, DateTime Used)>();
        foreach (var folder in System.IO.Directory.EnumerateDirectories(Directory))
        {
            if (Path.GetFileName(folder) is not { Length: 2 } name || !name.All(char.IsAsciiHexDigitLower))
            {
                continue;
            }

            foreach (var file in new DirectoryInfo(folder).EnumerateFiles())
            {
                if (file.Name.EndsWith(TemporarySuffix, StringComparison.Ordinal) || !BlobId.TryParse(file.Name, out var id) || id.IsZero
                    || !string.Equals(Path.GetFileName(folder), file.Name[..2], StringComparison.Ordinal))
                {
                    TryDelete(file.FullName);
                    continue;
                }

                found.Add((id, file.Length, file.LastWriteTimeUtc));
            }
        }

        foreach (var (id, length, _) in found.OrderByDescending(entry => entry.Used))
        {
            if (_bytes + length > CapacityBytes)
            {
                TryDelete(PathOf(id));
                _evicted++;
                continue;
            }

            _entries[id] = _recency.AddLast((id, length));
            _bytes += length;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            // Left behind; the next start deletes or re-indexes it.
        }
    }
}
