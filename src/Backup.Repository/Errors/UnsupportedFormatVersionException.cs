namespace Backup.Repository.Errors;

/// <summary>An object was written in a format version (or with an encoding) this client does not understand.</summary>
public sealed class UnsupportedFormatVersionException : Exception
{
    public UnsupportedFormatVersionException(string objectKey, string what, long found, long supported)
        : base($"'{objectKey}': {what} {found} is not supported by this client (supports {supported}); upgrade the client")
    {
        ObjectKey = objectKey;
    }

    public UnsupportedFormatVersionException() : base("unsupported repository format version") { ObjectKey = string.Empty; }

    public UnsupportedFormatVersionException(string message) : base(message) { ObjectKey = string.Empty; }

    public UnsupportedFormatVersionException(string message, Exception innerException) : base(message, innerException) { ObjectKey = string.Empty; }

    /// <summary>Key of the object that was refused.</summary>
    public string ObjectKey { get; }
}
