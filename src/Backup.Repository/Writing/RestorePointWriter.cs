using System.Buffers;
using Backup.Disks.BlockDevices;
using DiskExtent = Backup.Disks.ChangeTracking.DiskExtent;
using Backup.Repository.Backends;
using Backup.Repository.Blobs;
using Backup.Repository.Chunking;
using Backup.Repository.Configuration;
using Backup.Repository.Crypto;
using Backup.Repository.Errors;
using Backup.Repository.Manifests;
using Backup.Repository.Storage;

namespace Backup.Repository.Writing;

/// <summary>
/// Writes one restore point: add the VM's configuration, disks and streams, then <see cref="CommitAsync"/>.
/// Chunks already in the repository are not uploaded again. Nothing is visible until the manifest is written by
/// <see cref="CommitAsync"/>; a writer disposed (or a process killed) before that leaves no restore point.
/// Chunks are hashed, compressed and encrypted in parallel; the result does not depend on scheduling.
/// </summary>
public sealed class RestorePointWriter : IAsyncDisposable
{
    private const int ChunksPerBatch = 32;
    private readonly BlobStore _store;
    private readonly RepositoryConfig _config;
    private readonly ContentDefinedChunker _chunker;
    private readonly RestorePointManifest? _parent;
    private readonly Func<string, CancellationToken, Task<(RestorePointManifest? Manifest, string? Problem)>> _findPoint;
    private readonly BlobStoreSession _session;
    private readonly List<DiskManifest> _disks = [];
    private readonly List<StreamManifest> _streams = [];
    private readonly SemaphoreSlim _gate = new(1);
    private StreamManifest? _configuration;
    private readonly List<DiskWriteResult> _diskResults = [];
    private long _bytesRead;
    private long _bytesSkipped;
    private long _zeroChunks;
    private bool _committed;

    internal RestorePointWriter(BlobStore store, RepositoryConfig config, ContentDefinedChunker chunker, string vm, RestorePointManifest? parent,
        Func<string, CancellationToken, Task<(RestorePointManifest? Manifest, string? Problem)>> findPoint)
    {
        _findPoint = findPoint;
        _store = store;
        _config = config;
        _chunker = chunker;
        _parent = parent;
        _session = new BlobStoreSession(store, config.PackTargetSize);
        Vm = vm;
        Time = DateTimeOffset.UtcNow;
        PointId = PointIds.New(Time);
    }

    /// <summary>The id the point will have once committed.</summary>
    public string PointId { get; }

    public string Vm { get; }

    public DateTimeOffset Time { get; }

    /// <summary>The previous point of the same VM, against which changed-block maps are computed.</summary>
    public string? ParentId => _parent?.Id;

    /// <summary>Counters so far.</summary>
    public WriteStatistics Statistics => new()
    {
        BytesRead = _bytesRead,
        BytesSkipped = _bytesSkipped,
        ZeroChunks = _zeroChunks,
        NewBlobs = _session.NewBlobs,
        NewBlobBytes = _session.NewBlobBytes,
        DuplicateBlobs = _session.DuplicateBlobs,
        UploadedBytes = _session.UploadedBytes,
        UploadedObjects = _session.UploadedObjects,
    };

    /// <summary>How each disk added so far was written (bytes read and skipped, why it was read fully).</summary>
    public IReadOnlyList<DiskWriteResult> Disks => _diskResults.ToArray();

    /// <summary>Stores the VM's configuration (any bytes: the hypervisor's description of the machine).</summary>
    public async Task SetConfigurationAsync(ReadOnlyMemory<byte> configuration, CancellationToken cancellationToken = default)
    {
        using var stream = new MemoryStream(configuration.ToArray(), writable: false);
        _configuration = await Exclusive(() => WriteStreamAsync("configuration", stream, cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>Stores a disk read through the disk contract; every chunk is read.</summary>
    public Task<DiskWriteResult> AddDiskAsync(string name, IBlockDevice disk, IProgress<long>? progress = null, CancellationToken cancellationToken = default) =>
        AddDiskAsync(name, disk, changes: null, progress, cancellationToken);

    /// <summary>
    /// Stores a disk read through the disk contract. When <paramref name="changes"/> names a base point
    /// (<see cref="DiskChanges.BasePointId"/>: usually this point's parent, <see cref="ParentId"/>, but any readable
    /// point of the same VM) that holds a disk of the same name, length and chunk size whose chunks are all indexed, only
    /// the chunks overlapping a changed extent are read and hashed; every other chunk id is copied from the base without
    /// reading it. Otherwise (no changes, no base, base missing or damaged, size or chunk size changed, tracking reset)
    /// the whole disk is read and <see cref="DiskWriteResult.FullReadReason"/> says why. The tag of
    /// <paramref name="changes"/> is recorded on the disk either way. The changed-block map stored in the manifest is
    /// always relative to the parent. <paramref name="progress"/> reports the disk offset reached (skipped ranges count
    /// as done).
    /// </summary>
    public Task<DiskWriteResult> AddDiskAsync(string name, IBlockDevice disk, DiskChanges? changes, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(disk);
        return Exclusive(() => WriteBlockDeviceAsync(name, disk, changes, progress, cancellationToken));
    }

    /// <summary>Stores a disk image read sequentially from <paramref name="image"/> to its end; every chunk is read.</summary>
    public Task<DiskWriteResult> AddDiskAsync(string name, Stream image, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(image);
        return Exclusive(() => WriteDiskStreamAsync(name, image, progress, cancellationToken));
    }

    /// <summary>Stores a stream (memory, device state) with content-defined chunking.</summary>
    public async Task AddStreamAsync(string name, Stream content, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(content);
        var manifest = await Exclusive(() => WriteStreamAsync(name, content, cancellationToken)).ConfigureAwait(false);
        _streams.Add(manifest);
    }

    /// <summary>
    /// Uploads the last pack, the index, and then the manifest — the commit point. Returns the committed manifest.
    /// </summary>
    public async Task<RestorePointManifest> CommitAsync(CancellationToken cancellationToken = default)
    {
        if (_committed)
        {
            throw new InvalidOperationException($"restore point {PointId} is already committed");
        }

        await _session.CommitAsync(cancellationToken).ConfigureAwait(false);
        var manifest = new RestorePointManifest
        {
            Id = PointId,
            Vm = Vm,
            Time = Time,
            Parent = _parent?.Id,
            Configuration = _configuration,
            Disks = _disks.ToArray(),
            Streams = _streams.ToArray(),
        };
        var sealedManifest = ManifestCodec.Seal(manifest, _store.Sealer);
        await _store.Backend.PutAsync(ManifestCodec.KeyOf(PointId), sealedManifest, PutMode.CreateNew, cancellationToken).ConfigureAwait(false);
        _committed = true;
        return manifest;
    }

    public async ValueTask DisposeAsync()
    {
        await _session.DisposeAsync().ConfigureAwait(false);
        _gate.Dispose();
    }

    private async Task<T> Exclusive<T>(Func<Task<T>> action)
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_committed)
            {
                throw new InvalidOperationException($"restore point {PointId} is already committed");
            }

            return await action().ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task Exclusive(Func<Task> action) => await Exclusive(async () =>
    {
        await action().ConfigureAwait(false);
        return 0;
    }).ConfigureAwait(false);

    private async Task<DiskWriteResult> WriteBlockDeviceAsync(string name, IBlockDevice disk, DiskChanges? changes, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        EnsureNewDisk(name);
        var layout = new FixedChunkLayout(disk.Length, _config.DiskChunkSize);
        if (layout.Count > Array.MaxLength)
        {
            throw new ArgumentException($"disk '{name}' of {disk.Length} bytes has more than {Array.MaxLength} chunks", nameof(disk));
        }

        var plan = await PlanDiskReadAsync(name, layout, changes, cancellationToken).ConfigureAwait(false);
        var ids = new BlobId[layout.Count];
        plan.BaseChunks?.CopyTo(ids, 0);
        var chunkSize = layout.ChunkSize;
        var buffers = new[] { new byte[ChunksPerBatch * chunkSize], new byte[ChunksPerBatch * chunkSize] };
        using var batches = Batches(plan.Runs).GetEnumerator();
        long chunksRead = 0;
        long bytesRead = 0;
        var newBlobsBefore = _session.NewBlobs;
        var current = 0;
        var pending = batches.MoveNext() ? ReadBatch(batches.Current, buffers[current]) : null;
        while (pending is not null)
        {
            var (batch, lengths) = await pending.ConfigureAwait(false);
            var buffer = buffers[current];
            current ^= 1;
            pending = batches.MoveNext() ? ReadBatch(batches.Current, buffers[current]) : null;
            var batchIds = await StoreChunksAsync(buffer, chunkSize, lengths, cancellationToken).ConfigureAwait(false);
            var slot = 0;
            foreach (var (first, count) in batch)
            {
                for (var i = 0; i < count; i++)
                {
                    ids[first + i] = batchIds[slot++];
                }
            }

            var batchBytes = lengths.Sum(length => (long)length);
            chunksRead += lengths.Length;
            bytesRead += batchBytes;
            _bytesRead += batchBytes;
            var (lastFirst, lastCount) = batch[^1];
            progress?.Report(Math.Min(layout.Length, layout.OffsetOf(lastFirst + lastCount)));
        }

        _bytesSkipped += layout.Length - bytesRead;
        progress?.Report(layout.Length);
        return await FinishDiskAsync(
            name, layout, ids, plan.ParentChunks, changes?.TrackingTag, plan.FullReadReason, bytesRead, chunksRead, _session.NewBlobs - newBlobsBefore, cancellationToken).ConfigureAwait(false);

        Task<((long First, int Count)[] Batch, int[] Lengths)> ReadBatch((long First, int Count)[] batch, byte[] buffer) => Task.Run(
            () =>
            {
                var lengths = new int[batch.Sum(run => run.Count)];
                var slot = 0;
                foreach (var (first, count) in batch)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var offset = layout.OffsetOf(first);
                    var length = (int)(Math.Min(layout.Length, layout.OffsetOf(first + count)) - offset);
                    disk.Read(offset, buffer.AsSpan(slot * chunkSize, length));
                    for (var i = 0; i < count; i++)
                    {
                        lengths[slot++] = layout.LengthOf(first + i);
                    }
                }

                return (batch, lengths);
            },
            cancellationToken);
    }

    private async Task<DiskWriteResult> WriteDiskStreamAsync(string name, Stream image, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        EnsureNewDisk(name);
        var chunkSize = _config.DiskChunkSize;
        var buffers = new[] { new byte[ChunksPerBatch * chunkSize], new byte[ChunksPerBatch * chunkSize] };
        var ids = new List<BlobId>();
        long length = 0;
        var newBlobsBefore = _session.NewBlobs;
        var current = 0;
        var pending = image.ReadAtLeastAsync(buffers[current], buffers[current].Length, throwOnEndOfStream: false, cancellationToken);
        while (true)
        {
            var filled = await pending.ConfigureAwait(false);
            if (filled == 0)
            {
                break;
            }

            var buffer = buffers[current];
            var atEnd = filled < buffer.Length;
            current ^= 1;
            pending = atEnd ? new ValueTask<int>(0) : image.ReadAtLeastAsync(buffers[current], buffers[current].Length, throwOnEndOfStream: false, cancellationToken);
            var lengths = new int[(filled + chunkSize - 1) / chunkSize];
            for (var i = 0; i < lengths.Length; i++)
            {
                lengths[i] = Math.Min(chunkSize, filled - (i * chunkSize));
            }

            ids.AddRange(await StoreChunksAsync(buffer, chunkSize, lengths, cancellationToken).ConfigureAwait(false));
            length += filled;
            _bytesRead += filled;
            progress?.Report(length);
            if (atEnd)
            {
                break;
            }
        }

        var layout = new FixedChunkLayout(length, chunkSize);
        return await FinishDiskAsync(name, layout, ids.ToArray(), null, null, "the disk was given as a sequential stream", length, ids.Count, _session.NewBlobs - newBlobsBefore, cancellationToken).ConfigureAwait(false);
    }

    private void EnsureNewDisk(string name)
    {
        if (_disks.Any(disk => disk.Name == name))
        {
            throw new ArgumentException($"restore point {PointId} already has a disk named '{name}'", nameof(name));
        }
    }

    /// <summary>Hashes, and for new chunks seals, the chunks laid out at multiples of <paramref name="chunkSize"/> in <paramref name="buffer"/>.</summary>
    private async Task<BlobId[]> StoreChunksAsync(byte[] buffer, int chunkSize, int[] lengths, CancellationToken cancellationToken)
    {
        var results = new (BlobId Id, byte[]? Sealed, int SealedLength)[lengths.Length];
        Parallel.For(0, lengths.Length, new ParallelOptions { CancellationToken = cancellationToken }, i =>
        {
            var chunk = buffer.AsSpan(i * chunkSize, lengths[i]);
            if (!chunk.ContainsAnyExcept((byte)0))
            {
                results[i] = (BlobId.Zero, null, 0);
                return;
            }

            var id = _store.Keys.ComputeId(chunk);
            results[i] = _session.Contains(id) ? (id, null, 0) : SealPooled(id, chunk);
        });

        var ids = new BlobId[lengths.Length];
        try
        {
            for (var i = 0; i < results.Length; i++)
            {
                var (id, sealedChunk, sealedLength) = results[i];
                ids[i] = id;
                if (id.IsZero)
                {
                    _zeroChunks++;
                }
                else if (sealedChunk is null)
                {
                    _session.CountDuplicate();
                }
                else
                {
                    await _session.AddAsync(BlobType.Data, id, sealedChunk.AsMemory(0, sealedLength), lengths[i], cancellationToken).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            ReturnPooled(results.Select(result => result.Sealed));
        }

        return ids;
    }

    /// <summary>Seals a new chunk into a buffer rented from the shared pool (returned by <see cref="ReturnPooled"/>).</summary>
    private (BlobId Id, byte[]? Sealed, int SealedLength) SealPooled(BlobId id, ReadOnlySpan<byte> chunk)
    {
        var rented = ArrayPool<byte>.Shared.Rent(BlobSealer.MaxSealedLength(chunk.Length));
        try
        {
            return (id, rented, _store.Sealer.SealInto(chunk, AssociatedData.ForBlob(BlobType.Data, id), rented));
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(rented);
            throw;
        }
    }

    private static void ReturnPooled(IEnumerable<byte[]?> buffers)
    {
        foreach (var buffer in buffers)
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    private async Task<DiskWriteResult> FinishDiskAsync(
        string name, FixedChunkLayout layout, BlobId[] ids, BlobId[]? parentChunks, string? trackingTag, string? fullReadReason, long bytesRead, long chunksRead, long chunksNew, CancellationToken cancellationToken)
    {
        var maps = await ChunkMaps.StoreAsync(_session, _store, ids, cancellationToken).ConfigureAwait(false);
        var changed = await ChangedAgainstParentAsync(name, layout.ChunkSize, ids, parentChunks, cancellationToken).ConfigureAwait(false);
        _disks.Add(new DiskManifest
        {
            Name = name,
            Length = layout.Length,
            ChunkSize = layout.ChunkSize,
            Maps = maps.Select(id => id.ToString()).ToArray(),
            Changed = changed,
            TrackingTag = trackingTag,
        });
        var result = new DiskWriteResult
        {
            Name = name,
            Length = layout.Length,
            BytesRead = bytesRead,
            BytesSkipped = layout.Length - bytesRead,
            ChunksRead = chunksRead,
            ChunksReused = layout.Count - chunksRead,
            ChunksNew = chunksNew,
            FullReadReason = fullReadReason,
            TrackingTag = trackingTag,
        };
        _diskResults.Add(result);
        return result;
    }

    /// <summary>Decides whether a disk can be written incrementally; loads the parent's chunk ids when it can.</summary>
    private async Task<DiskReadPlan> PlanDiskReadAsync(string name, FixedChunkLayout layout, DiskChanges? changes, CancellationToken cancellationToken)
    {
        var everything = new[] { (First: 0L, Count: layout.Count) };
        if (changes is null)
        {
            return new DiskReadPlan(everything, null, null, _parent is null
                ? $"first restore point of VM '{Vm}': there is no earlier point to reuse chunks from"
                : "no changed-block information was given");
        }

        foreach (var extent in changes.ChangedExtents)
        {
            if (extent.End > layout.Length)
            {
                throw new ArgumentOutOfRangeException(
                    nameof(changes), $"changed extent at {extent.Offset} of {extent.Length} bytes ends past the end of disk '{name}' ({layout.Length} bytes)");
            }
        }

        if (changes.AllChangedReason is { } all)
        {
            return new DiskReadPlan(everything, null, null, $"change tracking reports every block changed: {all}");
        }

        if (changes.BasePointId is not { } baseId)
        {
            return new DiskReadPlan(everything, null, null, $"first restore point of disk '{name}': there is no base restore point to reuse chunks from");
        }

        RestorePointManifest? basePoint = _parent;
        if (_parent?.Id != baseId)
        {
            (basePoint, var problem) = await _findPoint(baseId, cancellationToken).ConfigureAwait(false);
            if (problem is not null)
            {
                return new DiskReadPlan(everything, null, null, problem);
            }
        }

        var baseDisk = basePoint!.Disks.FirstOrDefault(disk => disk.Name == name);
        var reason = baseDisk switch
        {
            _ when basePoint.Vm != Vm => $"base restore point {baseId} belongs to VM '{basePoint.Vm}', not '{Vm}'",
            null => $"base restore point {baseId} has no disk '{name}'",
            _ when baseDisk.Length != layout.Length =>
                $"disk '{name}' size changed from {Sizes.Describe(baseDisk.Length)} in base restore point {baseId} to {Sizes.Describe(layout.Length)}",
            _ when baseDisk.ChunkSize != layout.ChunkSize =>
                $"disk '{name}' of base restore point {baseId} uses {baseDisk.ChunkSize}-byte chunks, this repository now writes {layout.ChunkSize}-byte chunks",
            _ => null,
        };
        if (reason is not null)
        {
            return new DiskReadPlan(everything, null, null, reason);
        }

        BlobId[] baseChunks;
        try
        {
            baseChunks = await ChunkMaps.LoadAsync(_store, baseDisk!, baseId, cancellationToken).ConfigureAwait(false);
        }
        catch (RepositoryCorruptException exception)
        {
            return new DiskReadPlan(everything, null, null, $"the chunk maps of disk '{name}' in base restore point {baseId} cannot be read: {exception.Message}");
        }

        var missing = Array.FindIndex(baseChunks, id => !id.IsZero && !_store.Index.Contains(id));
        if (missing >= 0)
        {
            return new DiskReadPlan(everything, null, null, $"chunk {missing} of disk '{name}' in base restore point {baseId} is not in the repository's index");
        }

        return new DiskReadPlan(ChunkRuns(changes.ChangedExtents, layout.ChunkSize), baseChunks, ReferenceEquals(basePoint, _parent) ? baseChunks : null, null);
    }

    /// <summary>The chunks overlapping any extent, as ascending, non-overlapping runs.</summary>
    private static List<(long First, long Count)> ChunkRuns(IEnumerable<DiskExtent> extents, int chunkSize)
    {
        var runs = new List<(long First, long Count)>();
        foreach (var (first, last) in extents.Where(extent => extent.Length > 0).Select(extent => (extent.Offset / chunkSize, (extent.End - 1) / chunkSize)).Order())
        {
            if (runs.Count > 0 && runs[^1].First + runs[^1].Count >= first)
            {
                var end = Math.Max(runs[^1].First + runs[^1].Count, last + 1);
                runs[^1] = (runs[^1].First, end - runs[^1].First);
            }
            else
            {
                runs.Add((first, last - first + 1));
            }
        }

        return runs;
    }

    /// <summary>Groups runs of chunks into batches of at most <see cref="ChunksPerBatch"/> chunks, each a list of contiguous runs.</summary>
    private static IEnumerable<(long First, int Count)[]> Batches(IEnumerable<(long First, long Count)> runs)
    {
        var batch = new List<(long First, int Count)>();
        var slots = 0;
        foreach (var (first, count) in runs)
        {
            var done = 0L;
            while (done < count)
            {
                var take = (int)Math.Min(ChunksPerBatch - slots, count - done);
                batch.Add((first + done, take));
                slots += take;
                done += take;
                if (slots == ChunksPerBatch)
                {
                    yield return batch.ToArray();
                    batch.Clear();
                    slots = 0;
                }
            }
        }

        if (batch.Count > 0)
        {
            yield return batch.ToArray();
        }
    }

    private async Task<ChangedBlockMap> ChangedAgainstParentAsync(string name, int chunkSize, BlobId[] ids, BlobId[]? previous, CancellationToken cancellationToken)
    {
        var parentDisk = _parent?.Disks.FirstOrDefault(disk => disk.Name == name && disk.ChunkSize == chunkSize);
        if (previous is null && parentDisk is not null)
        {
            try
            {
                previous = await ChunkMaps.LoadAsync(_store, parentDisk, _parent!.Id, cancellationToken).ConfigureAwait(false);
            }
            catch (RepositoryCorruptException)
            {
                // A damaged parent does not stop a backup: the disk is recorded as entirely changed, compared with nothing.
                parentDisk = null;
            }
        }

        previous ??= [];
        var ranges = new List<long[]>();
        for (var i = 0; i < ids.Length; i++)
        {
            if (i < previous.Length && previous[i] == ids[i])
            {
                continue;
            }

            if (ranges.Count > 0 && ranges[^1][0] + ranges[^1][1] == i)
            {
                ranges[^1][1]++;
            }
            else
            {
                ranges.Add([i, 1]);
            }
        }

        return new ChangedBlockMap { Parent = parentDisk is null ? null : _parent!.Id, Ranges = ranges };
    }

    private async Task<StreamManifest> WriteStreamAsync(string name, Stream content, CancellationToken cancellationToken)
    {
        var maximum = _chunker.Maximum;
        var buffer = new byte[maximum * 16];
        var filled = 0;
        var atEnd = false;
        long length = 0;
        var chunks = new List<ChunkReference>();
        while (true)
        {
            if (!atEnd)
            {
                var wanted = buffer.Length - filled;
                var read = await content.ReadAtLeastAsync(buffer.AsMemory(filled), wanted, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                filled += read;
                atEnd = read < wanted;
            }

            var cuts = new List<(int Offset, int Length)>();
            var position = 0;
            while (filled - position >= maximum || (atEnd && position < filled))
            {
                var chunkLength = _chunker.NextChunkLength(buffer.AsSpan(position, filled - position));
                cuts.Add((position, chunkLength));
                position += chunkLength;
            }

            var results = new (BlobId Id, byte[]? Sealed, int SealedLength)[cuts.Count];
            Parallel.For(0, cuts.Count, new ParallelOptions { CancellationToken = cancellationToken }, i =>
            {
                var chunk = buffer.AsSpan(cuts[i].Offset, cuts[i].Length);
                var id = _store.Keys.ComputeId(chunk);
                results[i] = _session.Contains(id) ? (id, null, 0) : SealPooled(id, chunk);
            });

            try
            {
                for (var i = 0; i < cuts.Count; i++)
                {
                    var (id, sealedChunk, sealedLength) = results[i];
                    chunks.Add(new ChunkReference(id.ToString(), cuts[i].Length));
                    if (sealedChunk is null)
                    {
                        _session.CountDuplicate();
                    }
                    else
                    {
                        await _session.AddAsync(BlobType.Data, id, sealedChunk.AsMemory(0, sealedLength), cuts[i].Length, cancellationToken).ConfigureAwait(false);
                    }
                }
            }
            finally
            {
                ReturnPooled(results.Select(result => result.Sealed));
            }

            length += position;
            _bytesRead += position;
            buffer.AsSpan(position, filled - position).CopyTo(buffer);
            filled -= position;
            if (atEnd && filled == 0)
            {
                break;
            }
        }

        return new StreamManifest { Name = name, Length = length, Chunks = chunks };
    }
}
