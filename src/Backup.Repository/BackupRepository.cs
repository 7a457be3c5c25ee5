using System.Security.Cryptography;
using System.Text.Json;
using Backup.Repository.Backends;
using Backup.Repository.Blobs;
using Backup.Repository.Chunking;
using Backup.Repository.Configuration;
using Backup.Repository.Copy;
using Backup.Repository.Crypto;
using Backup.Repository.Errors;
using Backup.Repository.Index;
using Backup.Repository.Locks;
using Backup.Repository.Maintenance;
using Backup.Repository.Manifests;
using Backup.Repository.Reading;
using Backup.Repository.Storage;
using Backup.Repository.Verification;
using Backup.Repository.Writing;

namespace Backup.Repository;

/// <summary>
/// An open repository: deduplicated, compressed, encrypted restore points on a backend (format in
/// docs/repository-format.md). Create with <see cref="InitAsync"/>, open with <see cref="OpenAsync"/>.
/// </summary>
public sealed class BackupRepository : IDisposable
{
    /// <summary>Key of the plaintext configuration object.</summary>
    public const string ConfigKey = "config";

    /// <summary>Prefix of key files.</summary>
    public const string KeysPrefix = "keys/";

    private readonly BlobStore _store;
    private readonly ContentDefinedChunker _chunker;

    private BackupRepository(RepositoryConfig config, BlobStore store)
    {
        Config = config;
        _store = store;
        _chunker = new ContentDefinedChunker(store.Keys.ChunkerKey, config.StreamChunkMin, config.StreamChunkAverage, config.StreamChunkMax);
    }

    /// <summary>The repository's configuration.</summary>
    public RepositoryConfig Config { get; }

    /// <summary>The backend the repository lives on.</summary>
    public IRepositoryBackend Backend => _store.Backend;

    internal BlobStore Store => _store;

    /// <summary>The in-memory index (number of blobs, packs).</summary>
    public RepositoryIndex Index => _store.Index;

    /// <summary>Creates a new repository on an empty backend, protected by <paramref name="passphrase"/>.</summary>
    public static async Task<BackupRepository> InitAsync(IRepositoryBackend backend, string passphrase, RepositoryOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentException.ThrowIfNullOrEmpty(passphrase);
        options ??= new RepositoryOptions();
        if (await backend.ExistsAsync(ConfigKey, cancellationToken).ConfigureAwait(false))
        {
            throw new InvalidOperationException($"{backend.Location} already holds a repository ('{ConfigKey}' exists)");
        }

        var config = new RepositoryConfig
        {
            RepositoryId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)),
            DiskChunkSize = options.DiskChunkSize,
            StreamChunkMin = options.StreamChunkMin,
            StreamChunkAverage = options.StreamChunkAverage,
            StreamChunkMax = options.StreamChunkMax,
            PackTargetSize = options.PackTargetSize,
            Created = DateTimeOffset.UtcNow,
        };
        _ = new FixedChunkLayout(0, config.DiskChunkSize);
        var keys = MasterKeys.Generate();
        var keyFile = KeyFile.Create(keys, passphrase, options.Kdf, config.RepositoryId);
        var keyName = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        await backend.PutAsync(KeysPrefix + keyName, keyFile, PutMode.CreateNew, cancellationToken).ConfigureAwait(false);
        await backend.PutAsync(ConfigKey, JsonSerializer.SerializeToUtf8Bytes(config, RepositoryJson.Options), PutMode.CreateNew, cancellationToken).ConfigureAwait(false);
        return new BackupRepository(config, new BlobStore(backend, new BlobSealer(keys.EncryptionKey), keys, new RepositoryIndex()));
    }

    /// <summary>
    /// Opens a repository: checks the format version, unlocks the keys with <paramref name="passphrase"/>
    /// (<see cref="WrongPassphraseException"/> if it opens none) and loads the index.
    /// </summary>
    public static async Task<BackupRepository> OpenAsync(IRepositoryBackend backend, string passphrase, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(passphrase);
        var config = await ReadConfigAsync(backend, cancellationToken).ConfigureAwait(false);
        MasterKeys? keys = null;
        var keyCount = 0;
        await foreach (var item in backend.ListAsync(KeysPrefix, cancellationToken).ConfigureAwait(false))
        {
            keyCount++;
            keys = KeyFile.TryUnwrap(await backend.GetAsync(item.Key, cancellationToken).ConfigureAwait(false), item.Key, passphrase, config.RepositoryId);
            if (keys is not null)
            {
                break;
            }
        }

        if (keyCount == 0)
        {
            throw new RepositoryCorruptException(KeysPrefix, "no key files: the repository cannot be unlocked");
        }

        if (keys is null)
        {
            throw new WrongPassphraseException();
        }

        var store = new BlobStore(backend, new BlobSealer(keys.EncryptionKey), keys, new RepositoryIndex());
        await store.LoadIndexAsync(cancellationToken).ConfigureAwait(false);
        return new BackupRepository(config, store);
    }

    /// <summary>Lists restore points, oldest first. Points whose manifest cannot be read are listed with the problem.</summary>
    public async Task<IReadOnlyList<RestorePointSummary>> ListPointsAsync(CancellationToken cancellationToken = default)
    {
        var ids = new List<string>();
        await foreach (var item in Backend.ListAsync(ManifestCodec.Prefix, cancellationToken).ConfigureAwait(false))
        {
            ids.Add(item.Key[ManifestCodec.Prefix.Length..]);
        }

        var summaries = new RestorePointSummary[ids.Count];
        await Parallel.ForAsync(0, ids.Count, cancellationToken, async (i, token) =>
        {
            try
            {
                var manifest = await ReadManifestAsync(ids[i], token).ConfigureAwait(false);
                summaries[i] = new RestorePointSummary(manifest.Id, manifest.Vm, manifest.Time, manifest.Disks.Select(d => d.Name).ToArray(), manifest.Disks.Sum(d => d.Length), null);
            }
            catch (Exception exception) when (exception is RepositoryCorruptException or UnsupportedFormatVersionException or BackendObjectNotFoundException)
            {
                summaries[i] = new RestorePointSummary(ids[i], null, null, [], 0, exception.Message);
            }
        }).ConfigureAwait(false);
        return summaries.OrderBy(summary => summary.Id, StringComparer.Ordinal).ToArray();
    }

    /// <summary>Reads and authenticates a restore point's manifest.</summary>
    public async Task<RestorePointManifest> ReadManifestAsync(string pointId, CancellationToken cancellationToken = default)
    {
        if (!PointIds.IsValid(pointId))
        {
            throw new ArgumentException($"'{pointId}' is not a restore point id", nameof(pointId));
        }

        byte[] bytes;
        try
        {
            bytes = await Backend.GetAsync(ManifestCodec.KeyOf(pointId), cancellationToken).ConfigureAwait(false);
        }
        catch (BackendObjectNotFoundException exception)
        {
            throw new ArgumentException($"restore point {pointId} does not exist in {Backend.Location}", nameof(pointId), exception);
        }

        var manifest = ManifestCodec.Open(bytes, pointId, _store.Sealer);
        await _store.EnsureIndexedAsync(ReferencedBlobs(manifest), cancellationToken).ConfigureAwait(false);
        return manifest;
    }

    /// <summary>The blobs a manifest names directly (chunk maps and stream chunks), which a reader looks up first.</summary>
    private static IEnumerable<BlobId> ReferencedBlobs(RestorePointManifest manifest) =>
        manifest.Disks.SelectMany(disk => disk.Maps.Select(BlobId.Parse))
            .Concat(manifest.Streams.Concat(manifest.Configuration is null ? [] : [manifest.Configuration]).SelectMany(stream => stream.Chunks).Select(chunk => BlobId.Parse(chunk.Id)));

    /// <summary>
    /// Starts a restore point of <paramref name="vm"/>. Its disks are compared with the latest readable point of the
    /// same VM (by its recorded time, so points taken within one second are ordered too) to record changed-block maps; chunks are deduplicated against the whole repository.
    /// </summary>
    public Task<RestorePointWriter> BeginPointAsync(string vm, CancellationToken cancellationToken = default) =>
        BeginPointAsync(vm, parentPointId: null, cancellationToken);

    /// <summary>
    /// Starts a restore point of <paramref name="vm"/> whose parent is <paramref name="parentPointId"/> (a point of the
    /// same VM), or the latest readable point of the VM when null. The parent is what the disks' changed-block maps are
    /// relative to; incremental disk writes (<see cref="DiskChanges"/>) may name it or any other point of the VM as
    /// their base. A named parent that does not exist or whose manifest cannot be read does not stop a backup: the new
    /// point then has no parent, and a disk write based on it reads the whole disk and says why
    /// (<see cref="DiskWriteResult.FullReadReason"/>). A parent of another VM is refused.
    /// </summary>
    public async Task<RestorePointWriter> BeginPointAsync(string vm, string? parentPointId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(vm);
        RestorePointManifest? parent;
        if (parentPointId is null)
        {
            var points = await ListPointsAsync(cancellationToken).ConfigureAwait(false);
            var latest = points.Where(point => point.Vm == vm && point.Problem is null)
                .OrderBy(point => point.Time).ThenBy(point => point.Id, StringComparer.Ordinal).LastOrDefault();
            parent = latest is null ? null : await ReadManifestAsync(latest.Id, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            (parent, _) = await TryReadPointAsync(parentPointId, cancellationToken).ConfigureAwait(false);
            if (parent is not null && parent.Vm != vm)
            {
                throw new ArgumentException($"restore point {parentPointId} belongs to VM '{parent.Vm}', not '{vm}'", nameof(parentPointId));
            }
        }

        return new RestorePointWriter(_store, Config, _chunker, vm, parent, TryReadPointAsync);
    }

    /// <summary>Reads a point's manifest, or says in a sentence why it cannot be used (missing, damaged, unsupported).</summary>
    private async Task<(RestorePointManifest? Manifest, string? Problem)> TryReadPointAsync(string pointId, CancellationToken cancellationToken)
    {
        if (!PointIds.IsValid(pointId))
        {
            return (null, $"'{pointId}' is not a restore point id");
        }

        try
        {
            var bytes = await Backend.GetAsync(ManifestCodec.KeyOf(pointId), cancellationToken).ConfigureAwait(false);
            return (ManifestCodec.Open(bytes, pointId, _store.Sealer), null);
        }
        catch (BackendObjectNotFoundException)
        {
            return (null, $"base restore point {pointId} not found in {Backend.Location} (deleted or never committed)");
        }
        catch (Exception exception) when (exception is RepositoryCorruptException or UnsupportedFormatVersionException)
        {
            return (null, $"the manifest of base restore point {pointId} cannot be read: {exception.Message}");
        }
    }

    /// <summary>
    /// Opens a restore point for reading. Fails with <see cref="RepositoryCorruptException"/> naming the point if its
    /// manifest or chunk maps are damaged or reference chunks that are not indexed.
    /// </summary>
    public Task<RestorePointReader> OpenPointAsync(string pointId, long cacheBytes = 64L * 1024 * 1024, CancellationToken cancellationToken = default) =>
        OpenPointAsync(pointId, diskCache: null, cacheBytes, cancellationToken);

    /// <summary>
    /// Opens a restore point for reading with a persistent local chunk cache for random reads
    /// (<see cref="RestorePointReader.ReadAsync"/>): chunks found there are verified and served without fetching;
    /// fetched chunks are added. Use one cache directory per repository. <paramref name="cacheBytes"/> bounds the
    /// in-memory cache in front of it.
    /// </summary>
    public async Task<RestorePointReader> OpenPointAsync(string pointId, DiskChunkCache? diskCache, long cacheBytes = 64L * 1024 * 1024, CancellationToken cancellationToken = default)
    {
        var manifest = await ReadManifestAsync(pointId, cancellationToken).ConfigureAwait(false);
        return await RestorePointReader.OpenAsync(_store, manifest, new ChunkCache(cacheBytes), diskCache, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Re-reads and re-hashes all data; names damaged objects and the restore points they affect.</summary>
    public Task<VerifyReport> VerifyAsync(CancellationToken cancellationToken = default) => RepositoryVerifier.VerifyAsync(_store, new VerifyOptions(), cancellationToken);

    /// <summary>Verifies all data or a random sample of packs (<see cref="VerifyOptions.SamplePercent"/>).</summary>
    public Task<VerifyReport> VerifyAsync(VerifyOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        return RepositoryVerifier.VerifyAsync(_store, options, cancellationToken);
    }

    /// <summary>
    /// Takes a lock (format §12): shared for backup, restore, verify, copy and forget; exclusive for gc. Fails with
    /// <see cref="RepositoryLockedException"/> while a live conflicting lock exists; stale locks do not block.
    /// </summary>
    public Task<RepositoryLock> LockAsync(LockKind kind, string operation, LockOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(operation);
        return RepositoryLock.AcquireAsync(Backend, kind, operation, options ?? new LockOptions(), cancellationToken);
    }

    /// <summary>Lists the locks present, oldest first (use <see cref="LockInfo.IsStale"/> to find stale ones).</summary>
    public Task<IReadOnlyList<LockInfo>> ListLocksAsync(CancellationToken cancellationToken = default) => RepositoryLock.ListAsync(Backend, cancellationToken);

    /// <summary>Deletes the locks not refreshed for <paramref name="staleAfter"/>; returns them.</summary>
    public async Task<IReadOnlyList<LockInfo>> RemoveStaleLocksAsync(TimeSpan staleAfter, CancellationToken cancellationToken = default)
    {
        var now = DateTimeOffset.UtcNow;
        var stale = (await ListLocksAsync(cancellationToken).ConfigureAwait(false)).Where(info => info.IsStale(now, staleAfter)).ToArray();
        foreach (var info in stale)
        {
            await Backend.DeleteAsync(info.Key, cancellationToken).ConfigureAwait(false);
        }

        return stale;
    }

    /// <summary>Forgets restore points by id: deletes their manifests only (gc reclaims their data).</summary>
    public async Task<ForgetResult> ForgetAsync(IReadOnlyCollection<string> pointIds, bool dryRun = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pointIds);
        var points = await ListPointsAsync(cancellationToken).ConfigureAwait(false);
        var unknown = pointIds.Where(id => points.All(point => point.Id != id)).ToArray();
        if (unknown.Length > 0)
        {
            throw new ArgumentException($"no such restore point in {Backend.Location}: {string.Join(", ", unknown)}", nameof(pointIds));
        }

        var remove = points.Where(point => pointIds.Contains(point.Id)).ToArray();
        return await RemoveAsync(remove, points.Except(remove).ToArray(), dryRun, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Forgets all but the <paramref name="keepLast"/> newest restore points of each VM (or only of <paramref name="vm"/>).
    /// Unreadable points are never forgotten by policy. See <see cref="Forgetting"/> for the rules.
    /// </summary>
    public async Task<ForgetResult> ForgetAsync(int keepLast, string? vm = null, bool dryRun = false, CancellationToken cancellationToken = default)
    {
        var (remove, keep) = Forgetting.KeepLast(await ListPointsAsync(cancellationToken).ConfigureAwait(false), keepLast, vm);
        return await RemoveAsync(remove, keep, dryRun, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Garbage collection: deletes and repacks packs no restore point needs, older than the grace period. Holds an
    /// exclusive lock while it runs. Safe against writers that do not lock: their packs are younger than the grace period.
    /// </summary>
    public async Task<GcResult> GcAsync(GcOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new GcOptions();
        var gcLock = await LockAsync(LockKind.Exclusive, "gc", options.Lock, cancellationToken).ConfigureAwait(false);
        await using (gcLock.ConfigureAwait(false))
        {
            return await GarbageCollector.RunAsync(_store, Config.PackTargetSize, options, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Copies restore points into <paramref name="target"/> (another repository, other keys); only chunks the target
    /// lacks are uploaded. Points the target already has are skipped. <paramref name="progress"/> counts chunks processed.
    /// </summary>
    public Task<CopyStatistics> CopyToAsync(BackupRepository target, IReadOnlyList<string> pointIds, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(pointIds);
        return RepositoryCopier.CopyAsync(_store, target._store, target.Config.PackTargetSize, pointIds, progress, cancellationToken);
    }

    /// <summary>Total number of chunks (data blobs and chunk maps) a point references, for progress of copy.</summary>
    public async Task<long> CountChunksAsync(string pointId, CancellationToken cancellationToken = default)
    {
        var manifest = await ReadManifestAsync(pointId, cancellationToken).ConfigureAwait(false);
        return manifest.Disks.Sum(disk => new FixedChunkLayout(disk.Length, disk.ChunkSize).Count)
            + manifest.Streams.Concat(manifest.Configuration is null ? [] : [manifest.Configuration]).Sum(stream => (long)stream.Chunks.Count);
    }

    private async Task<ForgetResult> RemoveAsync(IReadOnlyList<RestorePointSummary> remove, IReadOnlyList<RestorePointSummary> keep, bool dryRun, CancellationToken cancellationToken)
    {
        if (!dryRun)
        {
            foreach (var point in remove)
            {
                await Backend.DeleteAsync(ManifestCodec.KeyOf(point.Id), cancellationToken).ConfigureAwait(false);
            }
        }

        return new ForgetResult(remove, keep, dryRun);
    }

    public void Dispose() => _store.Dispose();

    private static async Task<RepositoryConfig> ReadConfigAsync(IRepositoryBackend backend, CancellationToken cancellationToken)
    {
        byte[] bytes;
        try
        {
            bytes = await backend.GetAsync(ConfigKey, cancellationToken).ConfigureAwait(false);
        }
        catch (BackendObjectNotFoundException exception)
        {
            throw new RepositoryCorruptException(ConfigKey, $"missing: {backend.Location} is not a repository (run init first)", innerException: exception);
        }

        RepositoryConfig? config;
        try
        {
            config = JsonSerializer.Deserialize<RepositoryConfig>(bytes, RepositoryJson.Options);
        }
        catch (JsonException exception)
        {
            throw new RepositoryCorruptException(ConfigKey, $"is not valid JSON ({exception.Message})", innerException: exception);
        }

        if (config is null || config.Format != RepositoryConfig.FormatName)
        {
            throw new RepositoryCorruptException(ConfigKey, $"format is '{config?.Format}', expected '{RepositoryConfig.FormatName}'");
        }

        if (config.Version != RepositoryConfig.CurrentVersion)
        {
            throw new UnsupportedFormatVersionException(ConfigKey, "repository format version", config.Version, RepositoryConfig.CurrentVersion);
        }

        if (config.RepositoryId.Length != 32 || !config.RepositoryId.All(char.IsAsciiHexDigitLower))
        {
            throw new RepositoryCorruptException(ConfigKey, $"repository id '{config.RepositoryId}' is not 32 lower-case hex digits");
        }

        try
        {
            _ = new FixedChunkLayout(0, config.DiskChunkSize);
            _ = new ContentDefinedChunker(new byte[32], config.StreamChunkMin, config.StreamChunkAverage, config.StreamChunkMax);
        }
        catch (ArgumentException exception)
        {
            throw new RepositoryCorruptException(ConfigKey, $"has invalid chunking parameters ({exception.Message})", innerException: exception);
        }

        return config;
    }
}
