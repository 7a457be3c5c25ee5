namespace Backup.Network.Endpoint;

/// <summary>A network operation failed for the <see cref="Failure"/> reason; the message names the peer.</summary>
public sealed class NetworkException : IOException
{
    /// <summary>Creates the exception.</summary>
    public NetworkException(NetworkFailure failure, string message)
        : base(message)
    {
        Failure = failure;
    }

    /// <summary>Creates the exception with a generic message.</summary>
    public NetworkException()
        : this(NetworkFailure.Unavailable, "network operation failed")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public NetworkException(string message)
        : this(NetworkFailure.Unavailable, message)
    {
    }

    /// <summary>Creates the exception with a message and cause.</summary>
    public NetworkException(string message, Exception innerException)
        : base(message, innerException)
    {
        Failure = NetworkFailure.Unavailable;
    }

    /// <summary>Why it failed.</summary>
    public NetworkFailure Failure { get; }
}
