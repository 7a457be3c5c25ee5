using System.Collections.Concurrent;
using System.Security.Cryptography;
using Backup.Repository.Backends;
using Backup.Repository.Blobs;
using Backup.Repository.Crypto;
using Backup.Repository.Errors;
using Backup.Repository.Manifests;
using Backup.Repository.Packs;
using Backup.Repository.Storage;

namespace Backup.Repository.Verification;

/// <summary>
/// Re-reads every indexed pack, checks its SHA-256 against its name and authenticates and re-hashes every blob,
/// then walks every manifest and names the restore points that reference a missing or damaged blob.
/// </summary>
internal static class RepositoryVerifier
{
    public static async Task<VerifyReport> VerifyAsync(BlobStore store, VerifyOptions options, CancellationToken cancellationToken)
    {
        if (options.SamplePercent is <= 0 or > 100 or double.NaN)
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"sample percentage {options.SamplePercent} is not in (0, 100]");
        }

        // Points are listed before the index is refreshed: a writer writes its index before its manifest, so the
        // blobs of every listed point, even one committed by another client since this handle opened, are indexed.
        var pointIds = new List<string>();
        await foreach (var item in store.Backend.ListAsync(ManifestCodec.Prefix, cancellationToken).ConfigureAwait(false))
        {
            pointIds.Add(item.Key[ManifestCodec.Prefix.Length..]);
        }

        await store.RefreshIndexAsync(cancellationToken).ConfigureAwait(false);
        var damagedObjects = new ConcurrentBag<DamagedObject>();
        var badBlobs = new ConcurrentDictionary<BlobId, (string PackKey, string Problem)>();
        long blobsChecked = 0;
        long bytesRead = 0;
        var allPacks = store.Index.Packs.ToArray();
        var packs = allPacks;
        if (options.SamplePercent < 100)
        {
            var sampleCount = Math.Min(allPacks.Length, (int)Math.Ceiling(allPacks.Length * options.SamplePercent / 100));
            packs = allPacks.OrderBy(_ => Random.Shared.Next()).Take(sampleCount).ToArray();
            var sampled = packs.Select(pack => pack.PackId).ToHashSet();
            var present = new Dictionary<string, long>(StringComparer.Ordinal);
            await foreach (var item in store.Backend.ListAsync(PackLayout.Prefix, cancellationToken).ConfigureAwait(false))
            {
                present[item.Key] = item.Length;
            }

            foreach (var pack in allPacks.Where(pack => !sampled.Contains(pack.PackId)))
            {
                var problem = !present.TryGetValue(pack.Key, out var length) ? "pack is missing" : length != pack.Length ? $"pack is {length} bytes, the index says {pack.Length}" : null;
                if (problem is not null)
                {
                    damagedObjects.Add(new DamagedObject(pack.Key, problem));
                    foreach (var entry in pack.Entries)
                    {
                        badBlobs.TryAdd(entry.Id, (pack.Key, problem));
                    }
                }
            }
        }

        await Parallel.ForEachAsync(packs, cancellationToken, async (pack, token) =>
        {
            byte[] bytes;
            try
            {
                bytes = await store.Backend.GetAsync(pack.Key, token).ConfigureAwait(false);
            }
            catch (BackendObjectNotFoundException)
            {
                damagedObjects.Add(new DamagedObject(pack.Key, "pack is missing"));
                foreach (var entry in pack.Entries)
                {
                    badBlobs.TryAdd(entry.Id, (pack.Key, "pack is missing"));
                }

                return;
            }

            options.Progress?.Report(Interlocked.Add(ref bytesRead, bytes.Length));
            if (new BlobId(SHA256.HashData(bytes)) != pack.PackId)
            {
                damagedObjects.Add(new DamagedObject(pack.Key, bytes.Length == pack.Length ? "pack content does not match its name (SHA-256)" : $"pack is {bytes.Length} bytes, the index says {pack.Length}"));
            }

            foreach (var entry in pack.Entries)
            {
                Interlocked.Increment(ref blobsChecked);
                try
                {
                    if ((long)entry.Offset + entry.SealedLength > bytes.Length)
                    {
                        throw new RepositoryCorruptException(pack.Key, $"blob {entry.Id.ToShortString()} lies past the end of the pack");
                    }

                    var content = store.Sealer.Open(bytes.AsSpan((int)entry.Offset, (int)entry.SealedLength), AssociatedData.ForBlob(entry.Type, entry.Id), pack.Key, $"blob {entry.Id.ToShortString()}", (int)entry.PlainLength);
                    if (store.Keys.ComputeId(content) != entry.Id)
                    {
                        throw new RepositoryCorruptException(pack.Key, $"blob {entry.Id.ToShortString()} does not match its id");
                    }
                }
                catch (Exception exception) when (exception is RepositoryCorruptException or UnsupportedFormatVersionException)
                {
                    badBlobs.TryAdd(entry.Id, (pack.Key, exception is RepositoryCorruptException corrupt ? corrupt.Problem : exception.Message));
                }
            }
        }).ConfigureAwait(false);

        foreach (var group in badBlobs.Values.GroupBy(bad => bad.PackKey))
        {
            if (!damagedObjects.Any(damaged => damaged.Key == group.Key))
            {
                damagedObjects.Add(new DamagedObject(group.Key, string.Join("; ", group.Select(bad => bad.Problem).Distinct())));
            }
        }

        var damagedPoints = new ConcurrentBag<DamagedPoint>();
        await Parallel.ForEachAsync(pointIds, cancellationToken, async (pointId, token) =>
        {
            var problems = new List<string>();
            RestorePointManifest manifest;
            try
            {
                manifest = ManifestCodec.Open(await store.Backend.GetAsync(ManifestCodec.KeyOf(pointId), token).ConfigureAwait(false), pointId, store.Sealer);
            }
            catch (Exception exception) when (exception is RepositoryCorruptException or UnsupportedFormatVersionException or BackendObjectNotFoundException)
            {
                damagedObjects.Add(new DamagedObject(ManifestCodec.KeyOf(pointId), exception.Message));
                damagedPoints.Add(new DamagedPoint(pointId, null, [$"manifest cannot be read: {exception.Message}"]));
                return;
            }

            void Check(BlobId id, string what)
            {
                if (id.IsZero)
                {
                    return;
                }

                if (badBlobs.TryGetValue(id, out var problem))
                {
                    problems.Add($"{what}: '{problem.PackKey}': {problem.Problem}");
                }
                else if (!store.Index.Contains(id))
                {
                    problems.Add($"{what}: blob {id.ToShortString()} is not in the index");
                }
            }

            foreach (var disk in manifest.Disks)
            {
                for (var m = 0; m < disk.Maps.Count; m++)
                {
                    Check(BlobId.Parse(disk.Maps[m]), $"chunk map {m} of disk '{disk.Name}'");
                }

                try
                {
                    var chunks = await ChunkMaps.LoadAsync(store, disk, pointId, token).ConfigureAwait(false);
                    for (var i = 0; i < chunks.Length; i++)
                    {
                        Check(chunks[i], $"chunk {i} of disk '{disk.Name}'");
                    }
                }
                catch (RepositoryCorruptException exception)
                {
                    problems.Add($"chunk maps of disk '{disk.Name}': {exception.Message}");
                }
            }

            foreach (var stream in manifest.Streams.Concat(manifest.Configuration is null ? [] : [manifest.Configuration]))
            {
                for (var i = 0; i < stream.Chunks.Count; i++)
                {
                    Check(BlobId.Parse(stream.Chunks[i].Id), $"chunk {i} of stream '{stream.Name}'");
                }
            }

            if (problems.Count > 0)
            {
                damagedPoints.Add(new DamagedPoint(pointId, manifest.Vm, problems.Distinct().ToArray()));
            }
        }).ConfigureAwait(false);

        return new VerifyReport
        {
            PacksChecked = packs.Length,
            PacksTotal = allPacks.Length,
            SamplePercent = options.SamplePercent,
            BlobsChecked = blobsChecked,
            BytesRead = bytesRead,
            PointsChecked = pointIds.Count,
            DamagedObjects = damagedObjects.OrderBy(damaged => damaged.Key, StringComparer.Ordinal).ToArray(),
            DamagedPoints = damagedPoints.OrderBy(point => point.PointId, StringComparer.Ordinal).ToArray(),
        };
    }
}
