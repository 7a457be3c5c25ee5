namespace Backup.Repository.Backends;

/// <summary>The requested object does not exist.</summary>
public sealed class BackendObjectNotFoundException : Exception
{
    public BackendObjectNotFoundException(string key, string location, Exception? innerException = null)
        : base($"object '{key}' does not exist in {location}", innerException)
    {
        Key = key;
    }

    public BackendObjectNotFoundException() : base("object not found") { Key = string.Empty; }

    public BackendObjectNotFoundException(string message) : base(message) { Key = string.Empty; }

    public BackendObjectNotFoundException(string message, Exception innerException) : base(message, innerException) { Key = string.Empty; }

    /// <summary>The missing object's key.</summary>
    public string Key { get; }
}
