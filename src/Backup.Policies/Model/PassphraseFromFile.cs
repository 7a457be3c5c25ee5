namespace Backup.Policies.Model;

/// <summary>
/// <c>file:PATH</c>: the passphrase is the content of the file at <see cref="Path"/> (absolute; a relative path in
/// the policy is resolved against the data folder). One trailing newline is not part of the passphrase.
/// </summary>
public sealed record PassphraseFromFile(string Path) : PassphraseSource
{
    /// <summary><c>file:PATH</c>.</summary>
    public override string ToString() => $"file:{Path}";
}
