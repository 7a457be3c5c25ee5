namespace Backup.Policies.Model;

/// <summary>
/// <c>none</c> (the default): no passphrase is configured; the repository is opened with the appliance's local
/// default key file, which the caller creates and protects.
/// </summary>
public sealed record PassphraseFromDefaultKeyFile : PassphraseSource
{
    private PassphraseFromDefaultKeyFile()
    {
    }

    /// <summary>The only instance.</summary>
    public static PassphraseFromDefaultKeyFile Instance { get; } = new();

    /// <summary><c>none</c>.</summary>
    public override string ToString() => "none";
}
