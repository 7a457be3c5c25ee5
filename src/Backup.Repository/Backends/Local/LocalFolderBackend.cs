using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Backup.Repository.DirectIo;
using Microsoft.Win32.SafeHandles;

namespace Backup.Repository.Backends.Local;

/// <summary>
/// A repository in a local folder. Writes are atomic and durable: the object is written to a temporary file in the
/// target directory, fsynced, renamed onto its key, and the directory is fsynced, so after a crash an object is
/// either absent or complete. Temporary files (<c>.tmp-*</c>) left by a crash are never listed.
/// </summary>
public sealed class LocalFolderBackend : IRepositoryBackend
{
    /// <summary>Objects from this size on (packs) are written with direct I/O where the file system allows it.</summary>
    public const int MinimumDirectWriteBytes = 1024 * 1024;

    private const string TemporaryPrefix = ".tmp-";
    private static readonly ConcurrentBag<AlignedBuffer> DirectWriteBuffers = [];
    private static readonly ConcurrentBag<AlignedBuffer> DirectReadBuffers = [];
    private readonly string _root;

    /// <summary>Opens (and creates if needed) the folder <paramref name="root"/>.</summary>
    public LocalFolderBackend(string root)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        _root = Path.GetFullPath(root);
        Directory.CreateDirectory(_root);
    }

    /// <inheritdoc />
    public string Location => new Uri(_root).AbsoluteUri;

    /// <summary>
    /// Whether large objects are written with direct I/O (default true; Linux only): a pack is fsynced before it is
    /// renamed into place anyway, so copying it through the page cache first only costs CPU and evicts other data.
    /// </summary>
    public bool DirectWrites { get; init; } = true;

    /// <summary>
    /// Whether ranged reads of at least <see cref="MinimumDirectReadBytes"/> (restores reading packs) use direct I/O
    /// (default true; Linux only): pack data is read once per restore, and filling page-cache pages with it costs more CPU
    /// than the read itself on virtual machines.
    /// </summary>
    public bool DirectReads { get; init; } = true;

    /// <summary>Ranged reads from this size on use direct I/O when <see cref="DirectReads"/> is set.</summary>
    public const int MinimumDirectReadBytes = 256 * 1024;

    /// <inheritdoc />
    public async Task PutAsync(string key, ReadOnlyMemory<byte> data, PutMode mode, CancellationToken cancellationToken = default)
    {
        var path = PathOf(key);
        var directory = Path.GetDirectoryName(path)!;
        var temporary = Path.Combine(directory, TemporaryPrefix + Guid.NewGuid().ToString("N"));
        try
        {
            if (mode == PutMode.CreateNew && File.Exists(path))
            {
                throw new BackendObjectExistsException(key, Location);
            }

            Directory.CreateDirectory(directory);
            await using (var stream = new FileStream(temporary, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.None,
                Options = FileOptions.Asynchronous,
                PreallocationSize = data.Length,
            }))
            {
                if (!(DirectWrites && data.Length >= MinimumDirectWriteBytes && TryWriteDirect(temporary, data.Span)))
                {
                    await stream.WriteAsync(data, cancellationToken).ConfigureAwait(false);
                }

                // A direct write is padded to the alignment: the length is set exactly here, then data and length are flushed.
                stream.SetLength(data.Length);
                stream.Flush(flushToDisk: true);
            }

            try
            {
                File.Move(temporary, path, overwrite: mode == PutMode.Overwrite);
            }
            catch (IOException) when (mode == PutMode.CreateNew && File.Exists(path))
            {
                throw new BackendObjectExistsException(key, Location);
            }

            DirectorySync.Flush(directory);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            throw new BackendTransientException($"writing '{key}' to {Location} failed: {exception.Message}", exception);
        }
        finally
        {
            TryDelete(temporary);
        }
    }

    /// <summary>
    /// Writes <paramref name="data"/> from offset 0 of the freshly created <paramref name="path"/> with direct I/O, padded
    /// to the alignment (the caller sets the exact length). False, with nothing written, where direct I/O is refused.
    /// </summary>
    private static bool TryWriteDirect(string path, ReadOnlySpan<byte> data)
    {
        using var handle = DirectFile.TryOpenForWrite(path);
        if (handle is null)
        {
            return false;
        }

        // Data already aligned in memory (packs are assembled in aligned buffers) is written from where it is, all but its
        // last partial block; only that tail is copied into a padded buffer. Anything else is copied whole.
        var whole = data.Length / DirectFile.Alignment * DirectFile.Alignment;
        var bulk = whole > 0 && DirectFile.IsAligned(data[..whole], 0) ? whole : 0;
        var rest = data[bulk..];
        var padded = (int)DirectFile.RoundUp(rest.Length);
        AlignedBuffer? buffer = null;
        if (padded > 0 && (!DirectWriteBuffers.TryTake(out buffer) || buffer.Length < padded))
        {
            buffer = new AlignedBuffer((int)DirectFile.RoundUp(Math.Max(padded, bulk > 0 ? DirectFile.Alignment : 17 * 1024 * 1024)), DirectFile.Alignment);
        }

        try
        {
            if (bulk > 0)
            {
                RandomAccess.Write(handle, data[..bulk], 0);
            }

            if (padded > 0)
            {
                rest.CopyTo(buffer!.Span);
                buffer.Span[rest.Length..padded].Clear();
                RandomAccess.Write(handle, buffer.Span[..padded], bulk);
            }

            return true;
        }
        catch (IOException)
        {
            // The file system accepted O_DIRECT at open but refuses the write (EINVAL): the caller writes through the
            // page cache, over whatever part of this write landed.
            return false;
        }
        finally
        {
            if (buffer is not null)
            {
                DirectWriteBuffers.Add(buffer);
            }
        }
    }

    /// <summary>
    /// Reads the range with direct I/O through a pooled aligned buffer (the aligned span around the range, then copied out);
    /// returns the bytes read (fewer at the end of the object), or null where direct I/O is refused (the caller reads
    /// through the page cache). A missing file throws as a buffered open would.
    /// </summary>
    private static int? TryReadDirect(string path, long offset, Span<byte> destination)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"'{path}' does not exist", path);
        }

        using var handle = DirectFile.TryOpenForRead(path);
        if (handle is null)
        {
            return null;
        }

        var start = offset / DirectFile.Alignment * DirectFile.Alignment;
        var skip = (int)(offset - start);
        var span = (int)DirectFile.RoundUp(skip + (long)destination.Length);
        if (!DirectReadBuffers.TryTake(out var buffer) || buffer.Length < span)
        {
            buffer = new AlignedBuffer((int)DirectFile.RoundUp(Math.Max(span, 33 * 1024 * 1024)), DirectFile.Alignment);
        }

        try
        {
            var done = 0;
            while (done < span)
            {
                var read = RandomAccess.Read(handle, buffer.Span[done..span], start + done);
                if (read == 0)
                {
                    break;
                }

                done += read;
                if (done % DirectFile.Alignment != 0)
                {
                    // A short read not on the alignment is the end of the file.
                    break;
                }
            }

            var available = Math.Clamp(done - skip, 0, destination.Length);
            buffer.Span.Slice(skip, available).CopyTo(destination);
            return available;
        }
        catch (IOException)
        {
            // Opened with O_DIRECT but the read is refused (EINVAL on some file systems): read through the page cache.
            return null;
        }
        finally
        {
            DirectReadBuffers.Add(buffer);
        }
    }

    /// <inheritdoc />
    public async Task<byte[]> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        var path = PathOf(key);
        try
        {
            return await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new BackendObjectNotFoundException(key, Location, exception);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            throw new BackendTransientException($"reading '{key}' from {Location} failed: {exception.Message}", exception);
        }
    }

    /// <inheritdoc />
    public async Task<int> ReadRangeAsync(string key, long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var path = PathOf(key);
        try
        {
            if (DirectReads && destination.Length >= MinimumDirectReadBytes && TryReadDirect(path, offset, destination.Span) is { } direct)
            {
                return direct;
            }

            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.Asynchronous | FileOptions.RandomAccess);
            return await ReadFullyAsync(handle, offset, destination, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new BackendObjectNotFoundException(key, Location, exception);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            throw new BackendTransientException($"reading '{key}' from {Location} failed: {exception.Message}", exception);
        }
    }

    /// <inheritdoc />
    public async Task<byte[]> GetRangeAsync(string key, long offset, int length, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        var path = PathOf(key);
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.Asynchronous | FileOptions.RandomAccess);
            var available = Math.Max(0, RandomAccess.GetLength(handle) - offset);
            var buffer = new byte[(int)Math.Min(length, available)];
            var done = await ReadFullyAsync(handle, offset, buffer, cancellationToken).ConfigureAwait(false);
            return done == buffer.Length ? buffer : buffer[..done];
        }
        catch (Exception exception) when (exception is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new BackendObjectNotFoundException(key, Location, exception);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            throw new BackendTransientException($"reading '{key}' from {Location} failed: {exception.Message}", exception);
        }
    }

    /// <summary>Reads from <paramref name="offset"/> until <paramref name="destination"/> is full or the file ends; returns the bytes read.</summary>
    private static async Task<int> ReadFullyAsync(SafeFileHandle handle, long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        var done = 0;
        while (done < destination.Length)
        {
            var read = await RandomAccess.ReadAsync(handle, destination[done..], offset + done, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            done += read;
        }

        return done;
    }

    /// <inheritdoc />
    public Task<bool> ExistsAsync(string key, CancellationToken cancellationToken = default) => Task.FromResult(File.Exists(PathOf(key)));

    /// <inheritdoc />
    public async IAsyncEnumerable<BackendObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        await Task.Yield();
        var slash = prefix.LastIndexOf('/');
        var start = slash < 0 ? _root : Path.Combine(_root, prefix[..slash]);
        if (!Directory.Exists(start))
        {
            yield break;
        }

        foreach (var file in Directory.EnumerateFiles(start, "*", SearchOption.AllDirectories))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (Path.GetFileName(file).StartsWith(TemporaryPrefix, StringComparison.Ordinal))
            {
                continue;
            }

            var key = Path.GetRelativePath(_root, file).Replace(Path.DirectorySeparatorChar, '/');
            if (!key.StartsWith(prefix, StringComparison.Ordinal))
            {
                continue;
            }

            FileInfo info = new(file);
            if (info.Exists)
            {
                yield return new BackendObjectInfo(key, info.Length, info.LastWriteTimeUtc);
            }
        }
    }

    /// <inheritdoc />
    public Task DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        var path = PathOf(key);
        try
        {
            File.Delete(path);
            DirectorySync.Flush(Path.GetDirectoryName(path)!);
        }
        catch (DirectoryNotFoundException)
        {
            // Deleting a missing object is not an error.
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            throw new BackendTransientException($"deleting '{key}' from {Location} failed: {exception.Message}", exception);
        }

        return Task.CompletedTask;
    }

    private string PathOf(string key)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        if (key.StartsWith('/') || key.Contains('\\', StringComparison.Ordinal) || key.Split('/').Any(part => part is "" or "." or ".." || part.StartsWith(TemporaryPrefix, StringComparison.Ordinal)))
        {
            throw new ArgumentException($"'{key}' is not a valid object key", nameof(key));
        }

        return Path.Combine(_root, key.Replace('/', Path.DirectorySeparatorChar));
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Best effort: a leftover temporary file is never listed and is removed by gc.
        }
        catch (UnauthorizedAccessException)
        {
            // Same as above.
        }
    }
}
