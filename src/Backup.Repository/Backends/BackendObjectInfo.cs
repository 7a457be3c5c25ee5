namespace Backup.Repository.Backends;

/// <summary>One object found by <see cref="IRepositoryBackend.ListAsync"/>.</summary>
/// <param name="Key">Full key of the object.</param>
/// <param name="Length">Size in bytes.</param>
/// <param name="LastModified">When the object was written (UTC).</param>
public readonly record struct BackendObjectInfo(string Key, long Length, DateTimeOffset LastModified);
