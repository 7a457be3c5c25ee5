using System.Runtime.ExceptionServices;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using Backup.Repository.Backends;
using Backup.Repository.Blobs;
using Backup.Repository.Crypto;
using Backup.Repository.Errors;
using Backup.Repository.Index;
using Backup.Repository.Manifests;
using Backup.Repository.Packs;
using Backup.Repository.Storage;

namespace Backup.Repository.Maintenance;

/// <summary>
/// Two-phase garbage collection (format §12). Mark: read every index file and every manifest and collect the live
/// blobs (chunk maps and the chunks they list, stream chunks); manifests committed while gc runs are marked again just
/// before the sweep. Sweep: only packs whose object is older than mark start − grace period are considered; those
/// with no live blob are deleted, those with enough dead bytes are repacked (live sealed blobs copied unchanged into
/// new packs). Order of writes, each step leaving a valid repository if the process dies after it:
/// new packs → one new index superseding every index file read at mark → delete those index files → delete old packs.
/// </summary>
internal static class GarbageCollector
{
    public static async Task<GcResult> RunAsync(BlobStore store, int packTargetSize, GcOptions options, CancellationToken cancellationToken)
    {
        var log = options.Log;
        var markStart = DateTimeOffset.UtcNow;
        var cutoff = markStart - options.GracePeriod;

        // Mark. Manifests are listed before the index files are read: a writer writes its index before its manifest,
        // so every listed point's blobs are in an index read after the listing.
        var marked = new HashSet<string>(StringComparer.Ordinal);
        var firstPoints = await ListUnmarkedAsync(store, marked, cancellationToken).ConfigureAwait(false);
        var indexFiles = await store.ReadIndexFilesAsync(cancellationToken).ConfigureAwait(false);
        var indexedPacks = new Dictionary<BlobId, IndexedPack>();
        foreach (var pack in BlobStore.EffectivePacks(indexFiles))
        {
            indexedPacks.TryAdd(pack.PackId, pack);
            store.Index.Add(pack);
        }

        var live = new ConcurrentDictionary<BlobId, byte>();
        await MarkAsync(store, firstPoints, live, marked, cancellationToken).ConfigureAwait(false);
        log?.Report($"mark: {marked.Count} restore points reference {live.Count} blobs in {indexedPacks.Count} indexed packs");

        var objects = new Dictionary<BlobId, BackendObjectInfo>();
        await foreach (var item in store.Backend.ListAsync(PackLayout.Prefix, cancellationToken).ConfigureAwait(false))
        {
            var name = item.Key[(item.Key.LastIndexOf('/') + 1)..];
            if (name.Length == BlobId.Length * 2 && name.All(char.IsAsciiHexDigitLower))
            {
                objects[BlobId.Parse(name)] = item;
            }
        }

        // Points committed since the mark started: their blobs are live too (listed first, then their index files read).
        var laterPoints = await ListUnmarkedAsync(store, marked, cancellationToken).ConfigureAwait(false);
        foreach (var pack in BlobStore.EffectivePacks(await store.ReadIndexFilesAsync(cancellationToken).ConfigureAwait(false)))
        {
            store.Index.Add(pack);
        }

        await MarkAsync(store, laterPoints, live, marked, cancellationToken).ConfigureAwait(false);

        // Decide.
        var keep = new List<IndexedPack>();
        var delete = new List<IndexedPack>();
        var repack = new List<IndexedPack>();
        var young = 0;
        foreach (var pack in indexedPacks.Values)
        {
            var liveEntries = pack.Entries.Count(entry => live.ContainsKey(entry.Id));
            var old = objects.TryGetValue(pack.PackId, out var info) && info.LastModified < cutoff;
            if (liveEntries == pack.Entries.Count)
            {
                keep.Add(pack);
            }
            else if (!old)
            {
                young++;
                keep.Add(pack); // too young to judge, or missing (verify reports it; gc does not hide it)
            }
            else if (liveEntries == 0)
            {
                delete.Add(pack);
            }
            else
            {
                var deadBytes = pack.Entries.Where(entry => !live.ContainsKey(entry.Id)).Sum(entry => (long)entry.SealedLength);
                if (deadBytes >= options.RepackThreshold * pack.Length)
                {
                    repack.Add(pack);
                }
                else
                {
                    keep.Add(pack);
                }
            }
        }

        var orphans = objects.Where(pair => !indexedPacks.ContainsKey(pair.Key) && pair.Value.LastModified < cutoff).Select(pair => pair.Value).ToArray();
        var result = new GcResult
        {
            PointsMarked = marked.Count,
            LiveBlobs = live.Count,
            PacksBefore = objects.Count,
            PacksDeleted = delete.Count,
            PacksRepacked = repack.Count,
            PacksInGracePeriod = young,
            OrphanPacksDeleted = orphans.Length,
            IndexFilesSuperseded = delete.Count + repack.Count > 0 ? indexFiles.Count : 0,
            BytesDeleted = delete.Sum(p => p.Length) + repack.Sum(p => p.Length) + orphans.Sum(o => o.Length),
            DryRun = options.DryRun,
        };
        log?.Report($"sweep: {delete.Count} unreferenced packs, {repack.Count} to repack, {orphans.Length} unindexed packs, {young} younger than the grace period ({options.GracePeriod})");
        if (options.DryRun)
        {
            return result;
        }

        // Repack: copy the live sealed blobs, authenticated on the way, into new packs.
        var written = new List<IndexedPack>();
        long bytesWritten = 0;
        var copied = new HashSet<BlobId>(keep.SelectMany(pack => pack.Entries).Select(entry => entry.Id));
        using var writer = new PackWriter();
        async Task FlushAsync()
        {
            using var finished = writer.Finish(store.Sealer);
            var pack = new IndexedPack(finished.Id, finished.Length, finished.Entries);
            await store.Backend.PutAsync(pack.Key, finished.Bytes, PutMode.Overwrite, cancellationToken).ConfigureAwait(false);
            written.Add(pack);
            bytesWritten += finished.Length;
        }

        // Packs are fetched one ahead of the one being copied; the live blobs of a pack are authenticated in parallel.
        var next = repack.Count > 0 ? store.Backend.GetAsync(repack[0].Key, cancellationToken) : null;
        for (var p = 0; p < repack.Count; p++)
        {
            var pack = repack[p];
            var bytes = await next!.ConfigureAwait(false);
            next = p + 1 < repack.Count ? store.Backend.GetAsync(repack[p + 1].Key, cancellationToken) : null;
            if (new BlobId(SHA256.HashData(bytes)) != pack.PackId)
            {
                throw new RepositoryCorruptException(pack.Key, "pack content does not match its name; gc stops without deleting anything (run verify)");
            }

            var entries = pack.Entries.Where(entry => live.ContainsKey(entry.Id) && copied.Add(entry.Id)).ToArray();
            try
            {
                Parallel.ForEach(entries, new ParallelOptions { CancellationToken = cancellationToken }, entry =>
                    store.Sealer.Authenticate(
                        bytes.AsSpan((int)entry.Offset, (int)entry.SealedLength), AssociatedData.ForBlob(entry.Type, entry.Id), pack.Key, $"blob {entry.Id.ToShortString()}"));
            }
            catch (AggregateException exception) when (exception.InnerExceptions.Count > 0)
            {
                ExceptionDispatchInfo.Capture(exception.InnerExceptions[0]).Throw();
            }

            foreach (var entry in entries)
            {
                var sealedBlob = bytes.AsMemory((int)entry.Offset, (int)entry.SealedLength);
                if (writer.Count > 0 && writer.Size + sealedBlob.Length > packTargetSize)
                {
                    await FlushAsync().ConfigureAwait(false);
                }

                writer.Add(entry.Type, entry.Id, sealedBlob.Span, (int)entry.PlainLength);
            }
        }

        if (writer.Count > 0)
        {
            await FlushAsync().ConfigureAwait(false);
        }

        if (delete.Count + repack.Count > 0)
        {
            // The new index lists every kept pack and the new ones, and supersedes every index file read at mark.
            var payload = IndexFile.Encode(indexFiles.Keys.ToArray(), [.. keep, .. written]);
            var sealedIndex = store.Sealer.Seal(payload, AssociatedData.Index);
            var name = Convert.ToHexStringLower(SHA256.HashData(sealedIndex));
            await store.Backend.PutAsync(BlobStore.IndexPrefix + name, sealedIndex, PutMode.Overwrite, cancellationToken).ConfigureAwait(false);
            bytesWritten += sealedIndex.Length;
            log?.Report($"wrote index {name[..12]} ({keep.Count + written.Count} packs), superseding {indexFiles.Count} index files");
            foreach (var id in indexFiles.Keys)
            {
                await store.Backend.DeleteAsync(BlobStore.IndexPrefix + id, cancellationToken).ConfigureAwait(false);
            }
        }

        else
        {
            // Index files superseded by a present one (left by a gc that died before deleting them) are garbage.
            var superseded = indexFiles.Values.SelectMany(file => file.Superseded).Where(indexFiles.ContainsKey).Distinct().ToArray();
            foreach (var id in superseded)
            {
                await store.Backend.DeleteAsync(BlobStore.IndexPrefix + id, cancellationToken).ConfigureAwait(false);
            }

            result = result with { IndexFilesSuperseded = superseded.Length };
        }

        foreach (var key in delete.Concat(repack).Select(pack => pack.Key).Concat(orphans.Select(orphan => orphan.Key)))
        {
            await store.Backend.DeleteAsync(key, cancellationToken).ConfigureAwait(false);
        }

        await store.ReloadIndexAsync(cancellationToken).ConfigureAwait(false);
        log?.Report($"deleted {delete.Count + repack.Count + orphans.Length} packs, wrote {written.Count}");
        return result with { PacksWritten = written.Count, BytesWritten = bytesWritten };
    }

    /// <summary>Ids of the committed restore points not yet in <paramref name="marked"/>.</summary>
    private static async Task<List<string>> ListUnmarkedAsync(BlobStore store, HashSet<string> marked, CancellationToken cancellationToken)
    {
        var ids = new List<string>();
        await foreach (var item in store.Backend.ListAsync(ManifestCodec.Prefix, cancellationToken).ConfigureAwait(false))
        {
            var id = item.Key[ManifestCodec.Prefix.Length..];
            if (!marked.Contains(id))
            {
                ids.Add(id);
            }
        }

        return ids;
    }

    /// <summary>
    /// Adds the blobs of the manifests <paramref name="ids"/> (listed before the index was loaded) and records them
    /// in <paramref name="marked"/>. Any unreadable reference aborts gc.
    /// </summary>
    private static async Task MarkAsync(BlobStore store, List<string> ids, ConcurrentDictionary<BlobId, byte> live, HashSet<string> marked, CancellationToken cancellationToken)
    {
        await Parallel.ForEachAsync(ids, cancellationToken, async (id, token) =>
        {
            RestorePointManifest manifest;
            try
            {
                manifest = ManifestCodec.Open(await store.Backend.GetAsync(ManifestCodec.KeyOf(id), token).ConfigureAwait(false), id, store.Sealer);
            }
            catch (BackendObjectNotFoundException)
            {
                return; // forgotten meanwhile
            }
            catch (Exception exception) when (exception is RepositoryCorruptException or UnsupportedFormatVersionException)
            {
                throw new RepositoryCorruptException(ManifestCodec.KeyOf(id), $"gc cannot tell which data this restore point needs, so it deletes nothing: {exception.Message} (forget the point by id to let gc run)", [id], exception);
            }

            foreach (var disk in manifest.Disks)
            {
                foreach (var map in disk.Maps.Select(BlobId.Parse).Where(map => !map.IsZero))
                {
                    live.TryAdd(map, 0);
                }

                foreach (var chunk in await ChunkMaps.LoadAsync(store, disk, id, token).ConfigureAwait(false))
                {
                    if (!chunk.IsZero)
                    {
                        live.TryAdd(chunk, 0);
                    }
                }
            }

            foreach (var stream in manifest.Streams.Concat(manifest.Configuration is null ? [] : [manifest.Configuration]))
            {
                foreach (var chunk in stream.Chunks)
                {
                    live.TryAdd(BlobId.Parse(chunk.Id), 0);
                }
            }
        }).ConfigureAwait(false);
        marked.UnionWith(ids);
    }
}
