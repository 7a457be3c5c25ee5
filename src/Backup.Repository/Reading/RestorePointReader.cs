using Backup.Repository.Blobs;
using Backup.Repository.Chunking;
using Backup.Repository.Errors;
using Backup.Repository.Manifests;
using Backup.Repository.Storage;

namespace Backup.Repository.Reading;

/// <summary>
/// Reads a committed restore point: random access to any byte of any disk (to boot a VM straight from backup),
/// full streaming restores, and its streams. Opening checks that every chunk it references is indexed, so a damaged
/// point is reported before any data is served. Safe for concurrent reads.
/// </summary>
public sealed class RestorePointReader
{
    private const int RestoreReadAhead = 8;
    private readonly BlobStore _store;
    private readonly Dictionary<string, (DiskManifest Disk, FixedChunkLayout Layout, BlobId[] Chunks)> _disks;
    private readonly ChunkCache _cache;
    private readonly DiskChunkCache? _diskCache;

    private RestorePointReader(
        BlobStore store, RestorePointManifest manifest, Dictionary<string, (DiskManifest, FixedChunkLayout, BlobId[])> disks, ChunkCache cache, DiskChunkCache? diskCache)
    {
        _store = store;
        Manifest = manifest;
        _disks = disks;
        _cache = cache;
        _diskCache = diskCache;
    }

    /// <summary>The point's manifest.</summary>
    public RestorePointManifest Manifest { get; }

    /// <summary>In-memory cache of this reader (and its statistics).</summary>
    public ChunkCache Cache => _cache;

    /// <summary>The persistent local cache random reads go through, if one was given.</summary>
    public DiskChunkCache? DiskCache => _diskCache;

    /// <summary>Length of a disk in bytes.</summary>
    public long DiskLength(string disk) => Disk(disk).Layout.Length;

    /// <summary>
    /// Reads <paramref name="buffer"/>.Length bytes of <paramref name="disk"/> at <paramref name="offset"/>;
    /// the range must lie inside the disk.
    /// </summary>
    public async ValueTask ReadAsync(string disk, long offset, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var (manifest, layout, chunks) = Disk(disk);
        if (offset < 0 || offset + buffer.Length > layout.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"bytes {offset}..{offset + buffer.Length} are outside disk '{disk}' ({layout.Length} bytes)");
        }

        while (buffer.Length > 0)
        {
            var index = layout.IndexOf(offset);
            var within = (int)(offset - layout.OffsetOf(index));
            var count = Math.Min(buffer.Length, layout.LengthOf(index) - within);
            var id = chunks[index];
            if (id.IsZero)
            {
                buffer.Span[..count].Clear();
            }
            else
            {
                if (!_cache.TryGet(id, out var content))
                {
                    content = await FetchCachedAsync(manifest, index, id, cancellationToken).ConfigureAwait(false);
                    _cache.Add(id, content);
                }

                content.AsSpan(within, count).CopyTo(buffer.Span);
            }

            buffer = buffer[count..];
            offset += count;
        }
    }

    /// <summary>Writes the whole disk to <paramref name="destination"/>, fetching several chunks ahead.</summary>
    public async Task RestoreDiskAsync(string disk, Stream destination, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var (manifest, layout, chunks) = Disk(disk);
        var zero = new byte[layout.ChunkSize];
        var window = new Queue<Task<byte[]>>();
        long next = 0;
        long written = 0;
        for (long index = 0; index < layout.Count; index++)
        {
            while (next < layout.Count && next < index + RestoreReadAhead)
            {
                var id = chunks[next];
                var chunkIndex = next;
                window.Enqueue(id.IsZero ? Task.FromResult(zero) : Task.Run(() => FetchAsync(manifest, chunkIndex, id, cancellationToken), cancellationToken));
                next++;
            }

            var content = await window.Dequeue().ConfigureAwait(false);
            var length = layout.LengthOf(index);
            await destination.WriteAsync(content.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
            written += length;
            progress?.Report(written);
        }
    }

    /// <summary>Writes a stream of the point (for example "memory") to <paramref name="destination"/>.</summary>
    public async Task RestoreStreamAsync(string name, Stream destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var stream = (name == "configuration" ? Manifest.Configuration : Manifest.Streams.FirstOrDefault(s => s.Name == name))
            ?? throw new ArgumentException($"restore point {Manifest.Id} has no stream '{name}'", nameof(name));
        for (var i = 0; i < stream.Chunks.Count; i++)
        {
            var chunk = stream.Chunks[i];
            var content = await _store.ReadAsync(BlobType.Data, BlobId.Parse(chunk.Id), $"chunk {i} of stream '{name}'", [Manifest.Id], cancellationToken).ConfigureAwait(false);
            await destination.WriteAsync(content, cancellationToken).ConfigureAwait(false);
        }
    }

    internal static async Task<RestorePointReader> OpenAsync(BlobStore store, RestorePointManifest manifest, ChunkCache cache, DiskChunkCache? diskCache, CancellationToken cancellationToken)
    {
        var disks = new Dictionary<string, (DiskManifest, FixedChunkLayout, BlobId[])>();
        var missing = new List<string>();
        foreach (var disk in manifest.Disks)
        {
            var chunks = await ChunkMaps.LoadAsync(store, disk, manifest.Id, cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < chunks.Length; i++)
            {
                if (!chunks[i].IsZero && !store.Index.Contains(chunks[i]))
                {
                    missing.Add($"chunk {i} of disk '{disk.Name}' ({chunks[i].ToShortString()})");
                }
            }

            disks[disk.Name] = (disk, new FixedChunkLayout(disk.Length, disk.ChunkSize), chunks);
        }

        foreach (var stream in manifest.Streams.Concat(manifest.Configuration is null ? [] : [manifest.Configuration]))
        {
            missing.AddRange(stream.Chunks.Where(chunk => !store.Index.Contains(BlobId.Parse(chunk.Id))).Select(chunk => $"a chunk of stream '{stream.Name}' ({chunk.Id[..12]})"));
        }

        if (missing.Count > 0)
        {
            throw new RepositoryCorruptException(
                ManifestCodec.KeyOf(manifest.Id),
                $"{missing.Count} referenced chunk(s) are not in the index: {string.Join(", ", missing.Take(5))}{(missing.Count > 5 ? ", …" : string.Empty)}",
                [manifest.Id]);
        }

        return new RestorePointReader(store, manifest, disks, cache, diskCache);
    }

    private (DiskManifest Disk, FixedChunkLayout Layout, BlobId[] Chunks) Disk(string name) =>
        _disks.TryGetValue(name, out var disk) ? disk : throw new ArgumentException($"restore point {Manifest.Id} has no disk '{name}'", nameof(name));

    /// <summary>A chunk from the local disk cache when it holds a copy that verifies, else from the repository (then cached).</summary>
    private async Task<byte[]> FetchCachedAsync(DiskManifest disk, long index, BlobId id, CancellationToken cancellationToken)
    {
        if (_diskCache is null)
        {
            return await FetchAsync(disk, index, id, cancellationToken).ConfigureAwait(false);
        }

        if (_diskCache.TryRead(id) is { } cached)
        {
            try
            {
                return _store.OpenDetached(BlobType.Data, id, cached, $"chunk cache entry {id.ToShortString()} in {_diskCache.Directory}");
            }
            catch (RepositoryCorruptException)
            {
                // A damaged cache entry is never served: it is deleted and the chunk fetched from the repository.
                _diskCache.Discard(id);
            }
        }

        var context = $"chunk {index} of disk '{disk.Name}'";
        var location = _store.Locate(id, context, [Manifest.Id]);
        var sealedBlob = await _store.FetchAsync(location.Pack.Key, location.Entry.Offset, (int)location.Entry.SealedLength, context, [Manifest.Id], cancellationToken).ConfigureAwait(false);
        var content = _store.Open(BlobType.Data, id, location, sealedBlob, context, [Manifest.Id]);
        _diskCache.Add(id, sealedBlob);
        return content;
    }

    private Task<byte[]> FetchAsync(DiskManifest disk, long index, BlobId id, CancellationToken cancellationToken) =>
        _store.ReadAsync(BlobType.Data, id, $"chunk {index} of disk '{disk.Name}'", [Manifest.Id], cancellationToken);
}
