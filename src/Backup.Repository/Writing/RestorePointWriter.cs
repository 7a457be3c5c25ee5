using Backup.Disks.BlockDevices;
using Backup.Repository.Backends;
using Backup.Repository.Blobs;
using Backup.Repository.Chunking;
using Backup.Repository.Configuration;
using Backup.Repository.Crypto;
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
    private readonly BlobStoreSession _session;
    private readonly List<DiskManifest> _disks = [];
    private readonly List<StreamManifest> _streams = [];
    private readonly SemaphoreSlim _gate = new(1);
    private StreamManifest? _configuration;
    private long _bytesRead;
    private long _zeroChunks;
    private bool _committed;

    internal RestorePointWriter(BlobStore store, RepositoryConfig config, ContentDefinedChunker chunker, string vm, RestorePointManifest? parent)
    {
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
        ZeroChunks = _zeroChunks,
        NewBlobs = _session.NewBlobs,
        NewBlobBytes = _session.NewBlobBytes,
        DuplicateBlobs = _session.DuplicateBlobs,
        UploadedBytes = _session.UploadedBytes,
        UploadedObjects = _session.UploadedObjects,
    };

    /// <summary>Stores the VM's configuration (any bytes: the hypervisor's description of the machine).</summary>
    public async Task SetConfigurationAsync(ReadOnlyMemory<byte> configuration, CancellationToken cancellationToken = default)
    {
        using var stream = new MemoryStream(configuration.ToArray(), writable: false);
        _configuration = await Exclusive(() => WriteStreamAsync("configuration", stream, cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>Stores a disk read through the disk contract.</summary>
    public Task AddDiskAsync(string name, IBlockDevice disk, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(disk);
        long position = 0;
        return Exclusive(() => WriteDiskAsync(
            name,
            (buffer, _) =>
            {
                var length = (int)Math.Min(buffer.Length, disk.Length - position);
                var start = position;
                position += length;
                return new ValueTask<int>(Task.Run(() =>
                {
                    disk.Read(start, buffer.Span[..length]);
                    return length;
                }));
            },
            progress,
            cancellationToken));
    }

    /// <summary>Stores a disk image read sequentially from <paramref name="image"/> to its end.</summary>
    public Task AddDiskAsync(string name, Stream image, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        return Exclusive(() => WriteDiskAsync(
            name,
            (buffer, token) => image.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, token),
            progress,
            cancellationToken));
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

    private async Task WriteDiskAsync(string name, Func<Memory<byte>, CancellationToken, ValueTask<int>> readNext, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (_disks.Any(disk => disk.Name == name))
        {
            throw new ArgumentException($"restore point {PointId} already has a disk named '{name}'", nameof(name));
        }

        var chunkSize = _config.DiskChunkSize;
        var buffers = new[] { new byte[ChunksPerBatch * chunkSize], new byte[ChunksPerBatch * chunkSize] };
        var ids = new List<BlobId>();
        long length = 0;
        var current = 0;
        var pending = readNext(buffers[current], cancellationToken);
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
            pending = atEnd ? new ValueTask<int>(0) : readNext(buffers[current], cancellationToken);

            var count = (filled + chunkSize - 1) / chunkSize;
            var results = new (BlobId Id, byte[]? Sealed, int Length)[count];
            Parallel.For(0, count, new ParallelOptions { CancellationToken = cancellationToken }, i =>
            {
                var chunk = buffer.AsSpan(i * chunkSize, Math.Min(chunkSize, filled - (i * chunkSize)));
                if (!chunk.ContainsAnyExcept((byte)0))
                {
                    results[i] = (BlobId.Zero, null, chunk.Length);
                    return;
                }

                var id = _store.Keys.ComputeId(chunk);
                var sealedChunk = _session.Contains(id) ? null : _store.Sealer.Seal(chunk, AssociatedData.ForBlob(BlobType.Data, id));
                results[i] = (id, sealedChunk, chunk.Length);
            });

            foreach (var (id, sealedChunk, chunkLength) in results)
            {
                ids.Add(id);
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
                    await _session.AddAsync(BlobType.Data, id, sealedChunk, chunkLength, cancellationToken).ConfigureAwait(false);
                }
            }

            length += filled;
            _bytesRead += filled;
            progress?.Report(length);
            if (atEnd)
            {
                break;
            }
        }

        var maps = await ChunkMaps.StoreAsync(_session, _store, ids, cancellationToken).ConfigureAwait(false);
        var changed = await ChangedAgainstParentAsync(name, chunkSize, ids, cancellationToken).ConfigureAwait(false);
        _disks.Add(new DiskManifest
        {
            Name = name,
            Length = length,
            ChunkSize = chunkSize,
            Maps = maps.Select(id => id.ToString()).ToArray(),
            Changed = changed,
        });
    }

    private async Task<ChangedBlockMap> ChangedAgainstParentAsync(string name, int chunkSize, List<BlobId> ids, CancellationToken cancellationToken)
    {
        var parentDisk = _parent?.Disks.FirstOrDefault(disk => disk.Name == name && disk.ChunkSize == chunkSize);
        BlobId[] previous = parentDisk is null ? [] : await ChunkMaps.LoadAsync(_store, parentDisk, _parent!.Id, cancellationToken).ConfigureAwait(false);
        var ranges = new List<long[]>();
        for (var i = 0; i < ids.Count; i++)
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

            var results = new (BlobId Id, byte[]? Sealed)[cuts.Count];
            Parallel.For(0, cuts.Count, new ParallelOptions { CancellationToken = cancellationToken }, i =>
            {
                var chunk = buffer.AsSpan(cuts[i].Offset, cuts[i].Length);
                var id = _store.Keys.ComputeId(chunk);
                results[i] = (id, _session.Contains(id) ? null : _store.Sealer.Seal(chunk, AssociatedData.ForBlob(BlobType.Data, id)));
            });

            for (var i = 0; i < cuts.Count; i++)
            {
                var (id, sealedChunk) = results[i];
                chunks.Add(new ChunkReference(id.ToString(), cuts[i].Length));
                if (sealedChunk is null)
                {
                    _session.CountDuplicate();
                }
                else
                {
                    await _session.AddAsync(BlobType.Data, id, sealedChunk, cuts[i].Length, cancellationToken).ConfigureAwait(false);
                }
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
