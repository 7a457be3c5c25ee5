namespace Backup.Repository.Backends;

/// <summary>
/// An object store holding a repository: a local folder, an S3 bucket, an Azure Blob container.
/// Keys are '/'-separated relative names such as <c>packs/ab/ab12…</c>. Objects are immutable once written.
/// Every implementation passes the backend conformance suite.
/// </summary>
/// <remarks>
/// Errors: a missing object raises <see cref="BackendObjectNotFoundException"/>; a <see cref="PutMode.CreateNew"/>
/// put onto an existing key raises <see cref="BackendObjectExistsException"/>; failures that may succeed when
/// retried (network, throttling, timeouts) raise <see cref="BackendTransientException"/>.
/// </remarks>
public interface IRepositoryBackend
{
    /// <summary>Where the repository lives, for messages (for example <c>file:///srv/backup</c>).</summary>
    string Location { get; }

    /// <summary>
    /// Stores <paramref name="data"/> under <paramref name="key"/> atomically: readers see either no object or the
    /// whole object, never a part, even if the process or machine dies during the call.
    /// </summary>
    Task PutAsync(string key, ReadOnlyMemory<byte> data, PutMode mode, CancellationToken cancellationToken = default);

    /// <summary>Reads a whole object.</summary>
    Task<byte[]> GetAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>
    /// Reads <paramref name="length"/> bytes at <paramref name="offset"/>. Returns fewer bytes only when the object
    /// ends before <paramref name="offset"/> + <paramref name="length"/>.
    /// </summary>
    Task<byte[]> GetRangeAsync(string key, long offset, int length, CancellationToken cancellationToken = default);

    /// <summary>
    /// Reads <paramref name="destination"/>.Length bytes at <paramref name="offset"/> into <paramref name="destination"/>
    /// (a caller's reused buffer, so large reads allocate nothing) and returns how many were read: fewer only when the
    /// object ends before the range does. The default goes through <see cref="GetRangeAsync"/>.
    /// </summary>
    async Task<int> ReadRangeAsync(string key, long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        var bytes = await GetRangeAsync(key, offset, destination.Length, cancellationToken).ConfigureAwait(false);
        if (bytes.Length > destination.Length)
        {
            throw new BackendTransientException($"reading '{key}' from {Location} returned {bytes.Length} bytes for a range of {destination.Length}");
        }

        bytes.CopyTo(destination);
        return bytes.Length;
    }

    /// <summary>True when an object exists under <paramref name="key"/>.</summary>
    Task<bool> ExistsAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Lists the objects whose keys start with <paramref name="prefix"/>, in no particular order.</summary>
    IAsyncEnumerable<BackendObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken = default);

    /// <summary>Deletes an object; deleting a missing object is not an error.</summary>
    Task DeleteAsync(string key, CancellationToken cancellationToken = default);
}
