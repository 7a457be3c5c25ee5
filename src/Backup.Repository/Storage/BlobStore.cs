using System.Buffers;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using Backup.Repository.Backends;
using Backup.Repository.Blobs;
using Backup.Repository.Crypto;
using Backup.Repository.Errors;
using Backup.Repository.Index;
using Backup.Repository.Packs;

namespace Backup.Repository.Storage;

/// <summary>
/// Reads and writes blobs through packs and the index. One instance per repository handle; writing sessions are
/// serialized by the caller (one <see cref="BlobStoreSession"/> at a time per handle).
/// </summary>
internal sealed class BlobStore(IRepositoryBackend backend, BlobSealer sealer, MasterKeys keys, RepositoryIndex index) : IDisposable
{
    public const string IndexPrefix = "index/";

    private readonly HashSet<BlobId> _loadedIndexFiles = [];
    private readonly SemaphoreSlim _refreshing = new(1, 1);

    public IRepositoryBackend Backend { get; } = backend;

    public BlobSealer Sealer { get; } = sealer;

    public MasterKeys Keys { get; } = keys;

    public RepositoryIndex Index { get; } = index;

    /// <summary>Reads and opens a blob, checking its content against its id. <paramref name="context"/> says what needs it.</summary>
    public async Task<byte[]> ReadAsync(BlobType type, BlobId id, string context, IReadOnlyList<string> affectedPoints, CancellationToken cancellationToken)
    {
        var location = Locate(id, context, affectedPoints);
        var sealedBlob = await FetchAsync(location.Pack.Key, location.Entry.Offset, (int)location.Entry.SealedLength, context, affectedPoints, cancellationToken).ConfigureAwait(false);
        return Open(type, id, location, sealedBlob, context, affectedPoints);
    }

    /// <summary>
    /// As <see cref="ReadAsync"/>, into a buffer rented from the shared array pool (the caller returns it): the blob's
    /// content is its first <c>Length</c> bytes. For large blobs read in a stream, where a fresh array per blob costs
    /// page faults.
    /// </summary>
    public async Task<(byte[] Buffer, int Length)> ReadPooledAsync(BlobType type, BlobId id, string context, IReadOnlyList<string> affectedPoints, CancellationToken cancellationToken)
    {
        var location = Locate(id, context, affectedPoints);
        var sealedLength = (int)location.Entry.SealedLength;
        var plainLength = (int)location.Entry.PlainLength;
        var sealedBlob = ArrayPool<byte>.Shared.Rent(sealedLength);
        try
        {
            await FetchIntoAsync(location.Pack.Key, location.Entry.Offset, sealedBlob.AsMemory(0, sealedLength), context, affectedPoints, cancellationToken).ConfigureAwait(false);
            var content = ArrayPool<byte>.Shared.Rent(plainLength);
            try
            {
                OpenInto(type, id, location, sealedBlob.AsSpan(0, sealedLength), content.AsSpan(0, plainLength), context, affectedPoints);
                return (content, plainLength);
            }
            catch
            {
                ArrayPool<byte>.Shared.Return(content);
                throw;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(sealedBlob);
        }
    }

    /// <summary>Where a blob is stored; a blob in no index is reported as corruption naming <paramref name="context"/>.</summary>
    public BlobLocation Locate(BlobId id, string context, IReadOnlyList<string> affectedPoints) =>
        Index.TryGet(id, out var location)
            ? location
            : throw new RepositoryCorruptException(
                $"blob {id}",
                $"{context} is not in any index (its pack was never uploaded or its index is lost)",
                affectedPoints);

    /// <summary>Reads <paramref name="length"/> bytes of a pack at <paramref name="offset"/>; a missing or short pack is reported naming <paramref name="context"/>.</summary>
    public async Task<byte[]> FetchAsync(string packKey, long offset, int length, string context, IReadOnlyList<string> affectedPoints, CancellationToken cancellationToken)
    {
        byte[] bytes;
        try
        {
            bytes = await Backend.GetRangeAsync(packKey, offset, length, cancellationToken).ConfigureAwait(false);
        }
        catch (BackendObjectNotFoundException exception)
        {
            throw new RepositoryCorruptException(packKey, $"pack is missing; it holds {context}", affectedPoints, exception);
        }

        if (bytes.Length != length)
        {
            throw new RepositoryCorruptException(packKey, $"pack is truncated: {context} ends past its end", affectedPoints);
        }

        return bytes;
    }

    /// <summary>
    /// Reads <paramref name="destination"/>.Length bytes of a pack at <paramref name="offset"/> into a caller's buffer; a
    /// missing or short pack is reported naming <paramref name="context"/>.
    /// </summary>
    public async Task FetchIntoAsync(string packKey, long offset, Memory<byte> destination, string context, IReadOnlyList<string> affectedPoints, CancellationToken cancellationToken)
    {
        int read;
        try
        {
            read = await Backend.ReadRangeAsync(packKey, offset, destination, cancellationToken).ConfigureAwait(false);
        }
        catch (BackendObjectNotFoundException exception)
        {
            throw new RepositoryCorruptException(packKey, $"pack is missing; it holds {context}", affectedPoints, exception);
        }

        if (read != destination.Length)
        {
            throw new RepositoryCorruptException(packKey, $"pack is truncated: {context} ends past its end", affectedPoints);
        }
    }

    /// <summary>Decrypts and decompresses a sealed blob read from <paramref name="location"/> and checks it against its id.</summary>
    public byte[] Open(BlobType type, BlobId id, BlobLocation location, ReadOnlySpan<byte> sealedBlob, string context, IReadOnlyList<string> affectedPoints)
    {
        var key = location.Pack.Key;
        try
        {
            if (sealedBlob.Length != location.Entry.SealedLength)
            {
                throw new RepositoryCorruptException(key, $"pack is truncated: {context} (blob {id.ToShortString()}) ends past its end");
            }

            var content = Sealer.Open(sealedBlob, AssociatedData.ForBlob(type, id), key, $"blob {id.ToShortString()} ({context})", (int)location.Entry.PlainLength);
            if (Keys.ComputeId(content) != id)
            {
                throw new RepositoryCorruptException(key, $"blob {id.ToShortString()} ({context}) does not match its id");
            }

            return content;
        }
        catch (RepositoryCorruptException exception) when (affectedPoints.Count > 0 && exception.AffectedPoints.Count == 0)
        {
            throw new RepositoryCorruptException(exception.ObjectKey, exception.Problem, affectedPoints, exception);
        }
    }

    /// <summary>
    /// Like <see cref="Open"/>, into <paramref name="destination"/> (exactly the blob's indexed plain length); allocates
    /// nothing per blob.
    /// </summary>
    public void OpenInto(BlobType type, BlobId id, BlobLocation location, ReadOnlySpan<byte> sealedBlob, Span<byte> destination, string context, IReadOnlyList<string> affectedPoints)
    {
        var key = location.Pack.Key;
        try
        {
            if (sealedBlob.Length != location.Entry.SealedLength)
            {
                throw new RepositoryCorruptException(key, $"pack is truncated: {context} (blob {id.ToShortString()}) ends past its end");
            }

            if (destination.Length != location.Entry.PlainLength)
            {
                throw new RepositoryCorruptException(key, $"blob {id.ToShortString()} ({context}) is indexed as {location.Entry.PlainLength} bytes, {destination.Length} expected");
            }

            Sealer.OpenInto(sealedBlob, AssociatedData.ForBlob(type, id), key, $"blob {id.ToShortString()} ({context})", destination);
            if (Keys.ComputeId(destination) != id)
            {
                throw new RepositoryCorruptException(key, $"blob {id.ToShortString()} ({context}) does not match its id");
            }
        }
        catch (RepositoryCorruptException exception) when (affectedPoints.Count > 0 && exception.AffectedPoints.Count == 0)
        {
            throw new RepositoryCorruptException(exception.ObjectKey, exception.Problem, affectedPoints, exception);
        }
    }

    /// <summary>
    /// Opens a sealed blob that did not come from a pack (a local cache entry) and checks it against its id; throws
    /// <see cref="RepositoryCorruptException"/> naming <paramref name="source"/> when it does not verify.
    /// </summary>
    public byte[] OpenDetached(BlobType type, BlobId id, ReadOnlySpan<byte> sealedBlob, string source)
    {
        var content = Sealer.Open(sealedBlob, AssociatedData.ForBlob(type, id), source, $"blob {id.ToShortString()}");
        return Keys.ComputeId(content) == id ? content : throw new RepositoryCorruptException(source, $"blob {id.ToShortString()} does not match its id");
    }

    /// <summary>Loads every index file into <see cref="Index"/>, honouring supersession.</summary>
    public async Task LoadIndexAsync(CancellationToken cancellationToken)
    {
        var files = await ReadIndexFilesAsync(cancellationToken).ConfigureAwait(false);
        foreach (var pack in EffectivePacks(files))
        {
            Index.Add(pack);
        }

        lock (_loadedIndexFiles)
        {
            _loadedIndexFiles.UnionWith(files.Keys);
        }
    }

    /// <summary>Releases the sealer's key material.</summary>
    public void Dispose()
    {
        Sealer.Dispose();
        _refreshing.Dispose();
    }

    /// <summary>Records an index file this handle wrote itself (its packs are already in <see cref="Index"/>).</summary>
    public void RecordLoadedIndexFile(BlobId id)
    {
        lock (_loadedIndexFiles)
        {
            _loadedIndexFiles.Add(id);
        }
    }

    /// <summary>
    /// Makes sure <paramref name="ids"/> are indexed, reading index files written since this handle loaded its index
    /// (by another client, e.g. another appliance's backup committed after this handle was opened) when one is not.
    /// A blob that is still unknown afterwards is left for <see cref="Locate"/> to report.
    /// </summary>
    public async Task EnsureIndexedAsync(IEnumerable<BlobId> ids, CancellationToken cancellationToken)
    {
        if (ids.All(id => id.IsZero || Index.Contains(id)))
        {
            return;
        }

        await RefreshIndexAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Reads the index files this handle has not loaded yet and adds their packs; when one of them supersedes a file
    /// already loaded (a gc ran elsewhere) the whole index is reloaded, since blobs may have moved.
    /// </summary>
    public async Task RefreshIndexAsync(CancellationToken cancellationToken)
    {
        await _refreshing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            HashSet<BlobId> loaded;
            lock (_loadedIndexFiles)
            {
                loaded = [.. _loadedIndexFiles];
            }

            var fresh = await ReadIndexFilesAsync(id => !loaded.Contains(id), cancellationToken).ConfigureAwait(false);
            if (fresh.Count == 0)
            {
                return;
            }

            if (fresh.Values.Any(file => file.Superseded.Any(loaded.Contains)))
            {
                await ReloadIndexAsync(cancellationToken).ConfigureAwait(false);
                return;
            }

            foreach (var pack in EffectivePacks(fresh))
            {
                Index.Add(pack);
            }

            lock (_loadedIndexFiles)
            {
                _loadedIndexFiles.UnionWith(fresh.Keys);
            }
        }
        finally
        {
            _refreshing.Release();
        }
    }

    /// <summary>Reads and authenticates every index file: id → (superseded ids, packs).</summary>
    public Task<IReadOnlyDictionary<BlobId, (IReadOnlyList<BlobId> Superseded, IReadOnlyList<IndexedPack> Packs)>> ReadIndexFilesAsync(CancellationToken cancellationToken) =>
        ReadIndexFilesAsync(_ => true, cancellationToken);

    /// <summary>Reads and authenticates the index files whose id <paramref name="wanted"/> accepts.</summary>
    private async Task<IReadOnlyDictionary<BlobId, (IReadOnlyList<BlobId> Superseded, IReadOnlyList<IndexedPack> Packs)>> ReadIndexFilesAsync(Func<BlobId, bool> wanted, CancellationToken cancellationToken)
    {
        var files = new ConcurrentDictionary<BlobId, (IReadOnlyList<BlobId> Superseded, IReadOnlyList<IndexedPack> Packs)>();
        var keys = new List<string>();
        await foreach (var item in Backend.ListAsync(IndexPrefix, cancellationToken).ConfigureAwait(false))
        {
            var name = item.Key[IndexPrefix.Length..];
            if (name.Length == BlobId.Length * 2 && name.All(char.IsAsciiHexDigitLower) && wanted(BlobId.Parse(name)))
            {
                keys.Add(item.Key);
            }
        }

        await Parallel.ForEachAsync(keys, cancellationToken, async (key, token) =>
        {
            byte[] bytes;
            try
            {
                bytes = await Backend.GetAsync(key, token).ConfigureAwait(false);
            }
            catch (BackendObjectNotFoundException)
            {
                return; // deleted by gc after it was listed: its replacement supersedes it
            }

            var name = key[IndexPrefix.Length..];
            if (Convert.ToHexStringLower(SHA256.HashData(bytes)) != name)
            {
                throw new RepositoryCorruptException(key, "index file does not match its name (SHA-256): it is corrupted; rebuild the index from the packs");
            }

            var payload = Sealer.Open(bytes, AssociatedData.Index, key, "index file");
            files[BlobId.Parse(name)] = IndexFile.Decode(payload, key);
        }).ConfigureAwait(false);
        return files;
    }

    /// <summary>The packs of the index files that no other present index file supersedes.</summary>
    public static IEnumerable<IndexedPack> EffectivePacks(IReadOnlyDictionary<BlobId, (IReadOnlyList<BlobId> Superseded, IReadOnlyList<IndexedPack> Packs)> files)
    {
        var superseded = files.Values.SelectMany(file => file.Superseded).ToHashSet();
        return files.Where(file => !superseded.Contains(file.Key)).SelectMany(file => file.Value.Packs);
    }

    /// <summary>Replaces the in-memory index with the current index files (after gc).</summary>
    public async Task ReloadIndexAsync(CancellationToken cancellationToken)
    {
        var files = await ReadIndexFilesAsync(cancellationToken).ConfigureAwait(false);
        Index.Clear();
        foreach (var pack in EffectivePacks(files))
        {
            Index.Add(pack);
        }

        lock (_loadedIndexFiles)
        {
            _loadedIndexFiles.Clear();
            _loadedIndexFiles.UnionWith(files.Keys);
        }
    }
}
