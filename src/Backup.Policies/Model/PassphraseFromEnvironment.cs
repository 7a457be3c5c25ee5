namespace Backup.Policies.Model;

/// <summary><c>env:VAR</c>: the passphrase is the value of environment variable <see cref="Variable"/> of the service.</summary>
public sealed record PassphraseFromEnvironment(string Variable) : PassphraseSource
{
    /// <summary><c>env:VAR</c>.</summary>
    public override string ToString() => $"env:{Variable}";
}
