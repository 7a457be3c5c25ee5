using System.Buffers;
using System.Runtime.ExceptionServices;
using Backup.Repository.Blobs;
using Backup.Repository.Chunking;
using Backup.Repository.DirectIo;
using Backup.Repository.Errors;
using Backup.Repository.Index;
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
    /// <summary>Largest single ranged read of a full restore (sealed bytes of adjacent chunks of one pack).</summary>
    public const int MaxRangeBytes = 8 * 1024 * 1024;

    /// <summary>Sealed bytes a full restore fetches ahead of what it has written.</summary>
    public const long MaxBytesInFlight = 48L * 1024 * 1024;

    /// <summary>Largest single read of a pack-ordered restore (at most a whole pack).</summary>
    public const int MaxPackReadBytes = 32 * 1024 * 1024;

    /// <summary>Unneeded bytes between two needed blobs of a pack that a pack-ordered restore reads through rather than split the read.</summary>
    public const int MaxPackReadGapBytes = 1024 * 1024;

    /// <summary>Decompressed bytes one pack read of a file restore opens before writing them (a reused, aligned buffer).</summary>
    private const int OutputBufferBytes = 8 * 1024 * 1024;
    private const int MaxRangeChunks = 64;
    private const int MaxRangesInFlight = 16;
    private const int ZeroRunChunks = 1024;
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

    /// <summary>
    /// Writes the whole disk to <paramref name="destination"/>, every chunk checked against its id.
    /// When <paramref name="destination"/> is seekable and positioned at its end (a new or truncated file), the restore
    /// is pack-ordered: each pack is read once, by ranged reads of the blobs the disk needs (small gaps read through, at
    /// most <see cref="MaxPackReadBytes"/> a read), several packs at a time, and every chunk is written at its offset;
    /// all-zero chunks are left as holes and the length set at the end. Otherwise the disk is written in order: chunks
    /// stored side by side in one pack are fetched by one ranged read (up to <see cref="MaxRangeBytes"/>), several
    /// ranges fetched and opened in parallel ahead of the writer (at most <see cref="MaxBytesInFlight"/>), zeros written.
    /// On return the destination is positioned after the disk.
    /// </summary>
    public async Task RestoreDiskAsync(string disk, Stream destination, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var (manifest, layout, chunks) = Disk(disk);
        if (destination.CanSeek && destination.Position == destination.Length)
        {
            await RestoreByPackAsync(manifest, layout, chunks, destination, destination.Position, progress, cancellationToken).ConfigureAwait(false);
            return;
        }

        var zero = new byte[layout.ChunkSize];
        var window = new Queue<(RestoreRange Range, Task<byte[]>? Contents)>();
        long inFlight = 0;
        long written = 0;
        using var ranges = PlanRestore(manifest, layout, chunks).GetEnumerator();
        var more = ranges.MoveNext();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            while (more || window.Count > 0)
            {
                while (more && (window.Count == 0 || (inFlight + ranges.Current.Bytes <= MaxBytesInFlight && window.Count < MaxRangesInFlight)))
                {
                    var range = ranges.Current;
                    window.Enqueue((range, range.Locations is null ? null : Task.Run(() => FetchRangeAsync(manifest, layout, range, stop.Token), stop.Token)));
                    inFlight += range.Bytes;
                    more = ranges.MoveNext();
                }

                var (next, contents) = window.Dequeue();
                inFlight -= next.Bytes;
                if (contents is null)
                {
                    var length = layout.OffsetOf(next.First + next.Count) - layout.OffsetOf(next.First);
                    length = Math.Min(length, layout.Length - layout.OffsetOf(next.First));
                    for (var i = 0; i < next.Count; i++)
                    {
                        await destination.WriteAsync(zero.AsMemory(0, layout.LengthOf(next.First + i)), cancellationToken).ConfigureAwait(false);
                    }

                    written += length;
                }
                else
                {
                    var blobs = await contents.ConfigureAwait(false);
                    try
                    {
                        var length = (int)(Math.Min(layout.Length, layout.OffsetOf(next.First + next.Count)) - layout.OffsetOf(next.First));
                        await destination.WriteAsync(blobs.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
                        written += length;
                    }
                    finally
                    {
                        ArrayPool<byte>.Shared.Return(blobs);
                    }
                }

                progress?.Report(written);
            }
        }
        finally
        {
            // On failure or cancellation: stop the fetches still running, observe them, return their buffers.
            await stop.CancelAsync().ConfigureAwait(false);
            foreach (var (_, pending) in window)
            {
                _ = pending?.ContinueWith(
                    task =>
                    {
                        if (task.IsCompletedSuccessfully)
                        {
                            ArrayPool<byte>.Shared.Return(task.Result);
                        }

                        return task.Exception;
                    },
                    CancellationToken.None,
                    TaskContinuationOptions.ExecuteSynchronously,
                    TaskScheduler.Default);
            }
        }
    }

    /// <summary>
    /// Restores the whole disk into a new file at <paramref name="path"/> (created, or truncated if it exists), every chunk
    /// checked against its id. Pack-ordered: each pack is read once into a reused buffer, by ranged reads of the blobs the
    /// disk needs (small gaps read through); several reads are fetched, opened and written at once; chunks that follow each
    /// other on the disk are written by one positioned write; all-zero chunks are left as holes. On Linux the file is
    /// written with direct I/O where the file system allows it (no copy through the page cache). When this returns the
    /// file has the disk's length and its bytes are flushed to the device; on failure it is left incomplete (the caller
    /// restores into a temporary name and renames it on success).
    /// </summary>
    public Task RestoreDiskToFileAsync(string disk, string path, IProgress<long>? progress = null, CancellationToken cancellationToken = default) =>
        RestoreDiskToFileAsync(disk, path, allowDirectIo: true, progress, cancellationToken);

    /// <summary>As <see cref="RestoreDiskToFileAsync(string, string, IProgress{long}?, CancellationToken)"/>; <paramref name="allowDirectIo"/> false writes through the page cache.</summary>
    public async Task RestoreDiskToFileAsync(string disk, string path, bool allowDirectIo, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var (manifest, layout, chunks) = Disk(disk);
        var reads = PlanPackReads(manifest, layout, chunks);
        using var file = RestoreTargetFile.Create(path, allowDirectIo);
        var chunkSize = layout.ChunkSize;
        var slotsPerBuffer = Math.Max(1, OutputBufferBytes / chunkSize);
        var outputs = new System.Collections.Concurrent.ConcurrentBag<AlignedBuffer>();
        var progressGate = new object();
        long written = 0;
        var options = new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount + 1, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(reads, options, async (read, token) =>
        {
            var what = $"{read.Blobs.Length} chunk(s) of disk '{manifest.Name}' from chunk {read.Blobs.Min(blob => blob.Chunks[0])}";
            var input = ArrayPool<byte>.Shared.Rent(read.Length);
            var output = outputs.TryTake(out var reused) ? reused : new AlignedBuffer(slotsPerBuffer * chunkSize, DirectFile.Alignment);
            try
            {
                await _store.FetchIntoAsync(read.PackKey, read.Offset, input.AsMemory(0, read.Length), what, [Manifest.Id], token).ConfigureAwait(false);
                for (var first = 0; first < read.Blobs.Length; first += slotsPerBuffer)
                {
                    var count = Math.Min(slotsPerBuffer, read.Blobs.Length - first);
                    var bytes = OpenAndWrite(read, first, count, input, output, layout, file, manifest, token);
                    lock (progressGate)
                    {
                        written += bytes;
                        progress?.Report(written);
                    }
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(input);
                outputs.Add(output);
            }
        }).ConfigureAwait(false);

        file.Complete(layout.Length);
    }

    /// <summary>Writes a stream of the point (for example "memory") to <paramref name="destination"/>.</summary>
    public async Task RestoreStreamAsync(string name, Stream destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var stream = (name == "configuration" ? Manifest.Configuration : Manifest.Streams.FirstOrDefault(s => s.Name == name))
            ?? throw new ArgumentException($"restore point {Manifest.Id} has no stream '{name}'", nameof(name));
        // Chunks are fetched, decrypted and checked a few ahead of the one being written (into pooled buffers: a state
        // stream's chunks are large and fresh arrays for them cost page faults), so the consumer of the stream (a machine
        // being rebuilt from its memory state) is not held up by each chunk's round trip in turn.
        const int Ahead = 4;
        var window = new Queue<Task<(byte[] Buffer, int Length)>>();
        var next = 0;
        try
        {
            while (next < stream.Chunks.Count && window.Count < Ahead)
            {
                window.Enqueue(Fetch(next++));
            }

            while (window.TryDequeue(out var fetching))
            {
                var (content, length) = await fetching.ConfigureAwait(false);
                try
                {
                    if (next < stream.Chunks.Count)
                    {
                        window.Enqueue(Fetch(next++));
                    }

                    await destination.WriteAsync(content.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(content);
                }
            }
        }
        finally
        {
            // On failure, wait for the fetches still running (their errors are secondary to the one being thrown).
            foreach (var pending in window)
            {
                try
                {
                    ArrayPool<byte>.Shared.Return((await pending.ConfigureAwait(false)).Buffer);
                }
                catch (Exception)
                {
                    // Already failing: the first error is the one reported.
                }
            }
        }

        Task<(byte[] Buffer, int Length)> Fetch(int index) => Task.Run(
            () => _store.ReadPooledAsync(BlobType.Data, BlobId.Parse(stream.Chunks[index].Id), $"chunk {index} of stream '{name}'", [Manifest.Id], cancellationToken),
            cancellationToken);
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

    /// <summary>Pack-ordered restore into a seekable destination positioned at its end (<paramref name="start"/>).</summary>
    private async Task RestoreByPackAsync(
        DiskManifest disk, FixedChunkLayout layout, BlobId[] chunks, Stream destination, long start, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        long written = 0;
        using var writeGate = new SemaphoreSlim(1);
        var options = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(2, Environment.ProcessorCount), CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(PlanPackReads(disk, layout, chunks), options, async (read, token) =>
        {
            var what = $"{read.Blobs.Length} chunk(s) of disk '{disk.Name}' from chunk {read.Blobs.Min(blob => blob.Chunks[0])}";
            var bytes = await _store.FetchAsync(read.PackKey, read.Offset, read.Length, what, [Manifest.Id], token).ConfigureAwait(false);
            var contents = new byte[read.Blobs.Length][];
            try
            {
                OpenAll(read, bytes, contents, disk, token);
                await writeGate.WaitAsync(token).ConfigureAwait(false);
                try
                {
                    for (var i = 0; i < read.Blobs.Length; i++)
                    {
                        var (location, targets) = read.Blobs[i];
                        var length = (int)location.Entry.PlainLength;
                        foreach (var chunk in targets)
                        {
                            destination.Seek(start + layout.OffsetOf(chunk), SeekOrigin.Begin);
                            await destination.WriteAsync(contents[i].AsMemory(0, length), token).ConfigureAwait(false);
                            written += length;
                        }
                    }

                    progress?.Report(written);
                }
                finally
                {
                    writeGate.Release();
                }
            }
            finally
            {
                foreach (var content in contents.Where(content => content is not null))
                {
                    ArrayPool<byte>.Shared.Return(content);
                }
            }
        }).ConfigureAwait(false);

        if (destination.Length < start + layout.Length)
        {
            destination.SetLength(start + layout.Length);
        }

        destination.Seek(start + layout.Length, SeekOrigin.Begin);
    }

    /// <summary>
    /// Opens and checks blobs <paramref name="first"/>..+<paramref name="count"/> of a pack read into consecutive chunk-size
    /// slots of <paramref name="output"/>, then writes them: slots whose chunks follow each other on the disk go out as one
    /// write, and a blob the disk uses at several places is written at each. Returns the bytes written.
    /// </summary>
    private long OpenAndWrite(
        PackRead read, int first, int count, byte[] input, AlignedBuffer output, FixedChunkLayout layout, RestoreTargetFile file, DiskManifest disk, CancellationToken cancellationToken)
    {
        var chunkSize = layout.ChunkSize;
        for (var i = 0; i < count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var (location, targets) = read.Blobs[first + i];
            var length = (int)location.Entry.PlainLength;
            var slot = output.Span.Slice(i * chunkSize, chunkSize);
            var sealedBlob = input.AsSpan((int)(location.Entry.Offset - read.Offset), (int)location.Entry.SealedLength);
            _store.OpenInto(BlobType.Data, location.Entry.Id, location, sealedBlob, slot[..length], $"chunk {targets[0]} of disk '{disk.Name}'", [Manifest.Id]);
            slot[length..].Clear(); // a short last chunk is written padded to the alignment; the file's length is set at the end
        }

        long bytes = 0;
        var run = 0;
        for (var i = 1; i <= count; i++)
        {
            if (i < count && read.Blobs[first + i].Chunks[0] == read.Blobs[first + i - 1].Chunks[0] + 1)
            {
                continue;
            }

            // Slots run..i-1 hold consecutive disk chunks starting at the first target of slot run.
            var start = read.Blobs[first + run].Chunks[0];
            var plain = Math.Min(layout.Length, layout.OffsetOf(start + (i - run))) - layout.OffsetOf(start);
            WriteSlots(run, i - run, start, plain);
            bytes += plain;
            for (var j = run; j < i; j++)
            {
                foreach (var extra in read.Blobs[first + j].Chunks.Skip(1))
                {
                    var length = layout.LengthOf(extra);
                    WriteSlots(j, 1, extra, length);
                    bytes += length;
                }
            }

            run = i;
        }

        return bytes;

        void WriteSlots(int slot, int slots, long chunk, long plainLength)
        {
            var padded = (int)Math.Min((long)slots * chunkSize, (plainLength + DirectFile.Alignment - 1) / DirectFile.Alignment * DirectFile.Alignment);
            var data = output.Span.Slice(slot * chunkSize, padded);
            var offset = layout.OffsetOf(chunk);
            if (padded != plainLength && !DirectFile.IsAligned(data, offset))
            {
                data = data[..(int)plainLength];
            }

            file.Write(data, offset);
        }
    }

    /// <summary>Opens and checks every blob of a pack read in parallel, each into a buffer rented from the shared pool.</summary>
    private void OpenAll(PackRead read, byte[] bytes, byte[][] contents, DiskManifest disk, CancellationToken cancellationToken)
    {
        try
        {
            Parallel.For(0, read.Blobs.Length, new ParallelOptions { CancellationToken = cancellationToken }, i =>
            {
                var (location, targets) = read.Blobs[i];
                var length = (int)location.Entry.PlainLength;
                contents[i] = ArrayPool<byte>.Shared.Rent(Math.Max(1, length));
                var sealedBlob = bytes.AsSpan((int)(location.Entry.Offset - read.Offset), (int)location.Entry.SealedLength);
                _store.OpenInto(BlobType.Data, location.Entry.Id, location, sealedBlob, contents[i].AsSpan(0, length), $"chunk {targets[0]} of disk '{disk.Name}'", [Manifest.Id]);
            });
        }
        catch (AggregateException exception) when (exception.InnerExceptions.Count > 0)
        {
            // Report a damaged chunk as itself (naming the pack and the point), not wrapped.
            var first = exception.InnerExceptions.OfType<RepositoryCorruptException>().FirstOrDefault() ?? exception.InnerExceptions[0];
            ExceptionDispatchInfo.Capture(first).Throw();
        }
    }

    /// <summary>
    /// The reads of a pack-ordered restore: every distinct non-zero chunk of the disk, grouped by pack (packs in the order
    /// the disk first needs them), sorted by offset and cut into ranged reads; each blob lists every chunk it fills.
    /// </summary>
    private List<PackRead> PlanPackReads(DiskManifest disk, FixedChunkLayout layout, BlobId[] chunks)
    {
        var targets = new Dictionary<BlobId, List<long>>();
        var packs = new Dictionary<BlobId, List<(BlobLocation Location, List<long> Chunks)>>();
        var packOrder = new List<BlobId>();
        for (long index = 0; index < chunks.Length; index++)
        {
            var id = chunks[index];
            if (id.IsZero)
            {
                continue;
            }

            if (targets.TryGetValue(id, out var list))
            {
                list.Add(index);
                continue;
            }

            var location = _store.Locate(id, $"chunk {index} of disk '{disk.Name}'", [Manifest.Id]);
            if (location.Entry.PlainLength != layout.LengthOf(index))
            {
                throw new RepositoryCorruptException(
                    location.Pack.Key, $"chunk {index} of disk '{disk.Name}' is indexed as {location.Entry.PlainLength} bytes, the disk layout needs {layout.LengthOf(index)}", [Manifest.Id]);
            }

            list = [index];
            targets[id] = list;
            if (!packs.TryGetValue(location.Pack.PackId, out var blobs))
            {
                blobs = [];
                packs[location.Pack.PackId] = blobs;
                packOrder.Add(location.Pack.PackId);
            }

            blobs.Add((location, list));
        }

        var reads = new List<PackRead>();
        foreach (var packId in packOrder)
        {
            var blobs = packs[packId].OrderBy(blob => blob.Location.Entry.Offset).ToArray();
            var first = 0;
            for (var i = 1; i <= blobs.Length; i++)
            {
                var split = i == blobs.Length;
                if (!split)
                {
                    var previous = blobs[i - 1].Location.Entry;
                    var next = blobs[i].Location.Entry;
                    var gap = (long)next.Offset - (previous.Offset + previous.SealedLength);
                    var span = (long)next.Offset + next.SealedLength - blobs[first].Location.Entry.Offset;
                    split = gap > MaxPackReadGapBytes || span > MaxPackReadBytes;
                }

                if (split)
                {
                    var offset = (long)blobs[first].Location.Entry.Offset;
                    var last = blobs[i - 1].Location.Entry;
                    reads.Add(new PackRead(
                        blobs[first].Location.Pack.Key,
                        offset,
                        (int)(last.Offset + last.SealedLength - offset),
                        blobs[first..i].Select(blob => (blob.Location, blob.Chunks.ToArray())).ToArray()));
                    first = i;
                }
            }
        }

        return reads;
    }

    /// <summary>
    /// Splits a disk into runs of zero chunks and runs of chunks stored back to back in one pack, in disk order, so
    /// each run of stored chunks is one ranged read.
    /// </summary>
    private IEnumerable<RestoreRange> PlanRestore(DiskManifest disk, FixedChunkLayout layout, BlobId[] chunks)
    {
        long first = 0;
        var locations = new List<BlobLocation>();
        var zeros = 0;
        long bytes = 0;
        for (long index = 0; index < chunks.Length; index++)
        {
            var id = chunks[index];
            if (id.IsZero)
            {
                if (locations.Count > 0)
                {
                    yield return new RestoreRange(first, locations.Count, [.. locations], bytes);
                    locations.Clear();
                    bytes = 0;
                }

                if (zeros == 0)
                {
                    first = index;
                }

                if (++zeros == ZeroRunChunks)
                {
                    yield return new RestoreRange(first, zeros, null, 0);
                    zeros = 0;
                }

                continue;
            }

            if (zeros > 0)
            {
                yield return new RestoreRange(first, zeros, null, 0);
                zeros = 0;
            }

            var location = _store.Locate(id, $"chunk {index} of disk '{disk.Name}'", [Manifest.Id]);
            if (locations.Count > 0)
            {
                var last = locations[^1];
                var adjacent = last.Pack.PackId == location.Pack.PackId && (long)last.Entry.Offset + last.Entry.SealedLength == location.Entry.Offset;
                if (!adjacent || bytes + location.Entry.SealedLength > MaxRangeBytes || locations.Count == MaxRangeChunks)
                {
                    yield return new RestoreRange(first, locations.Count, [.. locations], bytes);
                    locations.Clear();
                    bytes = 0;
                }
            }

            if (locations.Count == 0)
            {
                first = index;
            }

            locations.Add(location);
            bytes += location.Entry.SealedLength;
        }

        if (locations.Count > 0)
        {
            yield return new RestoreRange(first, locations.Count, [.. locations], bytes);
        }
        else if (zeros > 0)
        {
            yield return new RestoreRange(first, zeros, null, 0);
        }
    }

    /// <summary>
    /// Reads a run of adjacent sealed chunks with one ranged read, then opens and checks them in parallel into a buffer
    /// rented from the shared pool, chunk i at i × chunk size (the caller returns it).
    /// </summary>
    private async Task<byte[]> FetchRangeAsync(DiskManifest disk, FixedChunkLayout layout, RestoreRange range, CancellationToken cancellationToken)
    {
        var locations = range.Locations!;
        var pack = locations[0].Pack.Key;
        var offset = locations[0].Entry.Offset;
        var context = range.Count == 1 ? $"chunk {range.First} of disk '{disk.Name}'" : $"chunks {range.First}..{range.First + range.Count - 1} of disk '{disk.Name}'";
        var sealedRange = await _store.FetchAsync(pack, offset, (int)range.Bytes, context, [Manifest.Id], cancellationToken).ConfigureAwait(false);
        var chunkSize = layout.ChunkSize;
        var contents = ArrayPool<byte>.Shared.Rent(range.Count * chunkSize);
        try
        {
            Parallel.For(0, locations.Length, new ParallelOptions { CancellationToken = cancellationToken }, i =>
            {
                var location = locations[i];
                var sealedBlob = sealedRange.AsSpan((int)(location.Entry.Offset - offset), (int)location.Entry.SealedLength);
                var destination = contents.AsSpan(i * chunkSize, layout.LengthOf(range.First + i));
                _store.OpenInto(BlobType.Data, location.Entry.Id, location, sealedBlob, destination, $"chunk {range.First + i} of disk '{disk.Name}'", [Manifest.Id]);
            });
        }
        catch (AggregateException exception) when (exception.InnerExceptions.Count > 0)
        {
            // Report a damaged chunk as itself (naming the pack and the point), not wrapped.
            ArrayPool<byte>.Shared.Return(contents);
            var first = exception.InnerExceptions.OfType<RepositoryCorruptException>().FirstOrDefault() ?? exception.InnerExceptions[0];
            ExceptionDispatchInfo.Capture(first).Throw();
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(contents);
            throw;
        }

        return contents;
    }

    private Task<byte[]> FetchAsync(DiskManifest disk, long index, BlobId id, CancellationToken cancellationToken) =>
        _store.ReadAsync(BlobType.Data, id, $"chunk {index} of disk '{disk.Name}'", [Manifest.Id], cancellationToken);
}
