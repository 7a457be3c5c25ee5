using System.Collections.Concurrent;
using System.Security.Cryptography;
using Backup.Repository.Backends;
using Backup.Repository.Blobs;
using Backup.Repository.Crypto;
using Backup.Repository.Index;
using Backup.Repository.Packs;

namespace Backup.Repository.Storage;

/// <summary>
/// One writing session: new blobs go into packs, which are uploaded as they fill (two uploads in flight);
/// <see cref="CommitAsync"/> uploads the last pack and then the index file listing the session's packs
/// (format §11). Blobs become visible to other handles only through that index.
/// </summary>
internal sealed class BlobStoreSession(BlobStore store, int packTargetSize) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<BlobId, byte> _pending = new();
    private readonly List<IndexedPack> _uploadedPacks = [];
    private readonly List<Task> _uploads = [];
    private readonly SemaphoreSlim _uploadSlots = new(2);
    private PackWriter _pack = new();

    public long UploadedBytes { get; private set; }

    public int UploadedObjects { get; private set; }

    public long NewBlobs { get; private set; }

    public long NewBlobBytes { get; private set; }

    public long DuplicateBlobs { get; private set; }

    /// <summary>True when the blob is already stored or written in this session.</summary>
    public bool Contains(BlobId id) => store.Index.Contains(id) || _pending.ContainsKey(id);

    /// <summary>Adds a sealed blob unless it is already stored.</summary>
    public async Task AddAsync(BlobType type, BlobId id, ReadOnlyMemory<byte> sealedBlob, int plainLength, CancellationToken cancellationToken)
    {
        if (!_pending.TryAdd(id, 0) || store.Index.Contains(id))
        {
            DuplicateBlobs++;
            return;
        }

        NewBlobs++;
        NewBlobBytes += plainLength;
        if (_pack.Count > 0 && _pack.Size + sealedBlob.Length > packTargetSize)
        {
            await FlushPackAsync(cancellationToken).ConfigureAwait(false);
        }

        _pack.Add(type, id, sealedBlob.Span, plainLength);
    }

    /// <summary>Counts a blob found already stored without sealing it.</summary>
    public void CountDuplicate() => DuplicateBlobs++;

    /// <summary>Uploads the open pack, waits for all uploads, then writes the index file of the session.</summary>
    public async Task CommitAsync(CancellationToken cancellationToken)
    {
        if (_pack.Count > 0)
        {
            await FlushPackAsync(cancellationToken).ConfigureAwait(false);
        }

        await Task.WhenAll(_uploads).ConfigureAwait(false);
        _uploads.Clear();
        if (_uploadedPacks.Count == 0)
        {
            return;
        }

        var payload = IndexFile.Encode([], _uploadedPacks);
        var sealedIndex = store.Sealer.Seal(payload, AssociatedData.Index);
        var name = Convert.ToHexStringLower(SHA256.HashData(sealedIndex));
        await store.Backend.PutAsync(BlobStore.IndexPrefix + name, sealedIndex, PutMode.Overwrite, cancellationToken).ConfigureAwait(false);
        UploadedBytes += sealedIndex.Length;
        UploadedObjects++;
        foreach (var pack in _uploadedPacks)
        {
            store.Index.Add(pack);
        }

        store.RecordLoadedIndexFile(BlobId.Parse(name));
        _uploadedPacks.Clear();
        _pending.Clear();
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Task.WhenAll(_uploads).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The session failed; its packs are unreferenced and gc reclaims them. The first error was already reported.
        }

        _uploadSlots.Dispose();
        _pack.Dispose();
    }

    /// <summary>
    /// Hands the open pack to an upload task (at most two in flight) and starts a new one: the pack is finished (trailer,
    /// SHA-256) on that task, so hashing it overlaps the sealing of the next chunks.
    /// </summary>
    private async Task FlushPackAsync(CancellationToken cancellationToken)
    {
        var full = _pack;
        _pack = new PackWriter();
        await _uploadSlots.WaitAsync(cancellationToken).ConfigureAwait(false);
        var failed = _uploads.FirstOrDefault(upload => upload.IsFaulted);
        if (failed is not null)
        {
            _uploadSlots.Release();
            full.Dispose();
            await failed.ConfigureAwait(false);
        }

        _uploads.RemoveAll(upload => upload.IsCompletedSuccessfully);
        _uploads.Add(Task.Run(() => UploadAsync(full, cancellationToken), CancellationToken.None));
    }

    private async Task UploadAsync(PackWriter writer, CancellationToken cancellationToken)
    {
        try
        {
            using var finished = writer.Finish(store.Sealer);
            var pack = new IndexedPack(finished.Id, finished.Length, finished.Entries);
            await store.Backend.PutAsync(pack.Key, finished.Bytes, PutMode.Overwrite, cancellationToken).ConfigureAwait(false);
            lock (_uploadedPacks)
            {
                _uploadedPacks.Add(pack);
                UploadedBytes += finished.Length;
                UploadedObjects++;
            }
        }
        finally
        {
            writer.Dispose();
            _uploadSlots.Release();
        }
    }
}
