using System.Collections.Concurrent;
using Backup.Repository.Backends;
using Backup.Repository.Blobs;
using Backup.Repository.Crypto;
using Backup.Repository.Manifests;
using Backup.Repository.Storage;

namespace Backup.Repository.Copy;

/// <summary>
/// Copies restore points into another repository with other keys. Chunk ids are keyed per repository, so a chunk's
/// id in the target is its plaintext re-hashed under the target's id key; only chunks the target lacks are
/// re-encrypted and uploaded. A chunk whose position is unchanged since the point's parent, when that parent was
/// already copied (same point id in the target), is mapped to the parent's target id without being read, so copying
/// an incremental point reads and moves only its changed chunks. Points keep their ids, so copying again is a no-op.
/// </summary>
internal static class RepositoryCopier
{
    private const int Batch = 64;

    public static async Task<CopyStatistics> CopyAsync(BlobStore source, BlobStore target, int targetPackSize, IReadOnlyList<string> pointIds, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        var mapping = new ConcurrentDictionary<BlobId, BlobId>();
        var statistics = new Counters();
        var copied = 0;
        var skipped = 0;
        foreach (var pointId in pointIds.Order(StringComparer.Ordinal))
        {
            if (await target.Backend.ExistsAsync(ManifestCodec.KeyOf(pointId), cancellationToken).ConfigureAwait(false))
            {
                skipped++;
                continue;
            }

            var manifest = ManifestCodec.Open(await source.Backend.GetAsync(ManifestCodec.KeyOf(pointId), cancellationToken).ConfigureAwait(false), pointId, source.Sealer);
            await SeedFromParentAsync(source, target, manifest, mapping, cancellationToken).ConfigureAwait(false);
            var session = new BlobStoreSession(target, targetPackSize);
            await using (session.ConfigureAwait(false))
            {
                var disks = new List<DiskManifest>();
                foreach (var disk in manifest.Disks)
                {
                    var sourceIds = await ChunkMaps.LoadAsync(source, disk, pointId, cancellationToken).ConfigureAwait(false);
                    var targetIds = await TranslateAsync(source, target, session, sourceIds, mapping, statistics, $"disk '{disk.Name}'", pointId, progress, cancellationToken).ConfigureAwait(false);
                    var maps = await ChunkMaps.StoreAsync(session, target, targetIds, cancellationToken).ConfigureAwait(false);
                    disks.Add(disk with { Maps = maps.Select(map => map.ToString()).ToArray() });
                }

                async Task<StreamManifest?> CopyStreamAsync(StreamManifest? stream)
                {
                    if (stream is null)
                    {
                        return null;
                    }

                    var ids = await TranslateAsync(source, target, session, stream.Chunks.Select(chunk => BlobId.Parse(chunk.Id)).ToArray(), mapping, statistics, $"stream '{stream.Name}'", pointId, progress, cancellationToken).ConfigureAwait(false);
                    return stream with { Chunks = stream.Chunks.Select((chunk, i) => chunk with { Id = ids[i].ToString() }).ToArray() };
                }

                var configuration = await CopyStreamAsync(manifest.Configuration).ConfigureAwait(false);
                var streams = new List<StreamManifest>();
                foreach (var stream in manifest.Streams)
                {
                    streams.Add((await CopyStreamAsync(stream).ConfigureAwait(false))!);
                }

                await session.CommitAsync(cancellationToken).ConfigureAwait(false);
                statistics.AddUploaded(session.UploadedBytes);
                var copy = manifest with { Disks = disks, Streams = streams, Configuration = configuration };
                await target.Backend.PutAsync(ManifestCodec.KeyOf(pointId), ManifestCodec.Seal(copy, target.Sealer), PutMode.CreateNew, cancellationToken).ConfigureAwait(false);
                copied++;
            }
        }

        return new CopyStatistics
        {
            PointsCopied = copied,
            PointsSkipped = skipped,
            ChunksMapped = statistics.Mapped,
            ChunksRead = statistics.Read,
            ChunksUploaded = statistics.Uploaded,
            BytesRead = statistics.BytesRead,
            BytesUploaded = statistics.BytesUploaded,
        };
    }

    /// <summary>Maps the chunks of the parent's copy, position by position, when the parent is already in the target.</summary>
    private static async Task SeedFromParentAsync(BlobStore source, BlobStore target, RestorePointManifest manifest, ConcurrentDictionary<BlobId, BlobId> mapping, CancellationToken cancellationToken)
    {
        if (manifest.Parent is not { } parentId || !PointIds.IsValid(parentId) || !await target.Backend.ExistsAsync(ManifestCodec.KeyOf(parentId), cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        var sourceParent = ManifestCodec.Open(await source.Backend.GetAsync(ManifestCodec.KeyOf(parentId), cancellationToken).ConfigureAwait(false), parentId, source.Sealer);
        var targetParent = ManifestCodec.Open(await target.Backend.GetAsync(ManifestCodec.KeyOf(parentId), cancellationToken).ConfigureAwait(false), parentId, target.Sealer);
        foreach (var disk in sourceParent.Disks)
        {
            var twin = targetParent.Disks.FirstOrDefault(other => other.Name == disk.Name && other.Length == disk.Length && other.ChunkSize == disk.ChunkSize);
            if (twin is null)
            {
                continue;
            }

            var from = await ChunkMaps.LoadAsync(source, disk, parentId, cancellationToken).ConfigureAwait(false);
            var to = await ChunkMaps.LoadAsync(target, twin, parentId, cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < from.Length; i++)
            {
                if (!from[i].IsZero && !to[i].IsZero)
                {
                    mapping.TryAdd(from[i], to[i]);
                }
            }
        }
    }

    private static async Task<BlobId[]> TranslateAsync(BlobStore source, BlobStore target, BlobStoreSession session, BlobId[] sourceIds, ConcurrentDictionary<BlobId, BlobId> mapping, Counters statistics, string what, string pointId, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        var result = new BlobId[sourceIds.Length];
        for (var first = 0; first < sourceIds.Length; first += Batch)
        {
            var count = Math.Min(Batch, sourceIds.Length - first);
            var sealedBlobs = new (byte[] Sealed, int Length)?[count];
            await Parallel.ForAsync(0, count, cancellationToken, async (i, token) =>
            {
                var sourceId = sourceIds[first + i];
                if (sourceId.IsZero)
                {
                    return;
                }

                if (mapping.TryGetValue(sourceId, out var known) && session.Contains(known))
                {
                    result[first + i] = known;
                    statistics.AddMapped();
                    return;
                }

                var content = await source.ReadAsync(BlobType.Data, sourceId, $"chunk {first + i} of {what}", [pointId], token).ConfigureAwait(false);
                statistics.AddRead(content.Length);
                var targetId = target.Keys.ComputeId(content);
                mapping[sourceId] = targetId;
                result[first + i] = targetId;
                if (!session.Contains(targetId))
                {
                    sealedBlobs[i] = (target.Sealer.Seal(content, AssociatedData.ForBlob(BlobType.Data, targetId)), content.Length);
                }
            }).ConfigureAwait(false);

            for (var i = 0; i < count; i++)
            {
                if (sealedBlobs[i] is { } blob)
                {
                    var before = session.NewBlobs;
                    await session.AddAsync(BlobType.Data, result[first + i], blob.Sealed, blob.Length, cancellationToken).ConfigureAwait(false);
                    if (session.NewBlobs > before)
                    {
                        statistics.AddUploadedChunk();
                    }
                }
            }

            progress?.Report(count);
        }

        return result;
    }

    private sealed class Counters
    {
        private long _mapped;
        private long _read;
        private long _bytesRead;
        private long _uploaded;
        private long _bytesUploaded;

        public long Mapped => _mapped;

        public long Read => _read;

        public long BytesRead => _bytesRead;

        public long Uploaded => _uploaded;

        public long BytesUploaded => _bytesUploaded;

        public void AddMapped() => Interlocked.Increment(ref _mapped);

        public void AddRead(long bytes)
        {
            Interlocked.Increment(ref _read);
            Interlocked.Add(ref _bytesRead, bytes);
        }

        public void AddUploadedChunk() => Interlocked.Increment(ref _uploaded);

        public void AddUploaded(long bytes) => Interlocked.Add(ref _bytesUploaded, bytes);
    }
}
