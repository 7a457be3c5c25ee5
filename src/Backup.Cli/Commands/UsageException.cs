namespace Backup.Cli.Commands;

/// <summary>Bad input from the user (exit code 2): the message says what to fix.</summary>
public sealed class UsageException : Exception
{
    public UsageException(string message) : base(message) { }

    public UsageException() : base("bad usage") { }

    public UsageException(string message, Exception innerException) : base(message, innerException) { }
}
