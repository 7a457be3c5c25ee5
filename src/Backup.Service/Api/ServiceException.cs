namespace Backup.Service.Api;

/// <summary>The service refused a request or stopped answering; the message says why.</summary>
public sealed class ServiceException : Exception
{
    public ServiceException()
    {
    }

    public ServiceException(string message)
        : base(message)
    {
    }

    public ServiceException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
