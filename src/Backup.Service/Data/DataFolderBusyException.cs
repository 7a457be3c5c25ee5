namespace Backup.Service.Data;

/// <summary>The data folder is locked by another process (named in the message).</summary>
public sealed class DataFolderBusyException : Exception
{
    public DataFolderBusyException()
    {
    }

    public DataFolderBusyException(string message)
        : base(message)
    {
    }

    public DataFolderBusyException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
