namespace Backup.Repository.Backends;

/// <summary>A <see cref="PutMode.CreateNew"/> put found an object already stored under the key.</summary>
public sealed class BackendObjectExistsException : Exception
{
    public BackendObjectExistsException(string key, string location, Exception? innerException = null)
        : base($"object '{key}' already exists in {location}", innerException)
    {
        Key = key;
    }

    public BackendObjectExistsException() : base("object already exists") { Key = string.Empty; }

    public BackendObjectExistsException(string message) : base(message) { Key = string.Empty; }

    public BackendObjectExistsException(string message, Exception innerException) : base(message, innerException) { Key = string.Empty; }

    /// <summary>The key that was already taken.</summary>
    public string Key { get; }
}
