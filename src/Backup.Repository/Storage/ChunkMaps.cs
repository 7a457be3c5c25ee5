using Backup.Repository.Blobs;
using Backup.Repository.Chunking;
using Backup.Repository.Crypto;
using Backup.Repository.Errors;
using Backup.Repository.Manifests;

namespace Backup.Repository.Storage;

/// <summary>Builds and reads the chunk-map blobs that list a disk's fixed chunks (format §8).</summary>
internal static class ChunkMaps
{
    /// <summary>Stores the maps of <paramref name="chunkIds"/> and returns their ids (zero id for an all-zero range).</summary>
    public static async Task<IReadOnlyList<BlobId>> StoreAsync(BlobStoreSession session, BlobStore store, IReadOnlyList<BlobId> chunkIds, CancellationToken cancellationToken)
    {
        var maps = new List<BlobId>();
        for (var first = 0; first < chunkIds.Count; first += DiskManifest.ChunksPerMap)
        {
            var count = Math.Min(DiskManifest.ChunksPerMap, chunkIds.Count - first);
            var allZero = true;
            var payload = new byte[count * BlobId.Length];
            for (var i = 0; i < count; i++)
            {
                var id = chunkIds[first + i];
                allZero &= id.IsZero;
                id.WriteTo(payload.AsSpan(i * BlobId.Length));
            }

            if (allZero)
            {
                maps.Add(BlobId.Zero);
                continue;
            }

            var mapId = store.Keys.ComputeId(payload);
            if (!session.Contains(mapId))
            {
                var sealedMap = store.Sealer.Seal(payload, AssociatedData.ForBlob(BlobType.ChunkMap, mapId));
                await session.AddAsync(BlobType.ChunkMap, mapId, sealedMap, payload.Length, cancellationToken).ConfigureAwait(false);
            }

            maps.Add(mapId);
        }

        return maps;
    }

    /// <summary>Reads all chunk ids of a disk, checking that the maps cover exactly its chunks.</summary>
    public static async Task<BlobId[]> LoadAsync(BlobStore store, DiskManifest disk, string pointId, CancellationToken cancellationToken)
    {
        var layout = new FixedChunkLayout(disk.Length, disk.ChunkSize);
        var expectedMaps = (layout.Count + DiskManifest.ChunksPerMap - 1) / DiskManifest.ChunksPerMap;
        var key = ManifestCodec.KeyOf(pointId);
        if (disk.Maps.Count != expectedMaps)
        {
            throw new RepositoryCorruptException(key, $"disk '{disk.Name}' lists {disk.Maps.Count} chunk maps, its length needs {expectedMaps}", [pointId]);
        }

        var ids = new BlobId[layout.Count];
        await Parallel.ForAsync(0, disk.Maps.Count, cancellationToken, async (m, token) =>
        {
            BlobId mapId;
            try
            {
                mapId = BlobId.Parse(disk.Maps[m]);
            }
            catch (FormatException exception)
            {
                throw new RepositoryCorruptException(key, $"disk '{disk.Name}' chunk map {m} has an invalid id", [pointId], exception);
            }

            var first = (long)m * DiskManifest.ChunksPerMap;
            var count = (int)Math.Min(DiskManifest.ChunksPerMap, layout.Count - first);
            if (mapId.IsZero)
            {
                return;
            }

            var payload = await store.ReadAsync(BlobType.ChunkMap, mapId, $"chunk map {m} of disk '{disk.Name}'", [pointId], token).ConfigureAwait(false);
            if (payload.Length != count * BlobId.Length)
            {
                throw new RepositoryCorruptException(key, $"chunk map {m} of disk '{disk.Name}' lists {payload.Length / BlobId.Length} chunks, expected {count}", [pointId]);
            }

            for (var i = 0; i < count; i++)
            {
                ids[first + i] = new BlobId(payload.AsSpan(i * BlobId.Length, BlobId.Length));
            }
        }).ConfigureAwait(false);
        return ids;
    }
}
