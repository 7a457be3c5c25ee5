namespace Backup.Repository.Errors;

/// <summary>The passphrase does not unlock any key file of the repository.</summary>
public sealed class WrongPassphraseException : Exception
{
    public WrongPassphraseException() : base("wrong passphrase: it does not open any key in keys/ of this repository") { }

    public WrongPassphraseException(string message) : base(message) { }

    public WrongPassphraseException(string message, Exception innerException) : base(message, innerException) { }
}
