namespace Backup.Repository.Backends;

/// <summary>An operation failed in a way that may succeed when retried (network, throttling, timeout, I/O error).</summary>
public sealed class BackendTransientException : Exception
{
    public BackendTransientException() : base("transient backend failure") { }

    public BackendTransientException(string message) : base(message) { }

    public BackendTransientException(string message, Exception innerException) : base(message, innerException) { }
}
