namespace Backup.Repository.Crypto;

/// <summary>The JSON of a <c>keys/&lt;id&gt;</c> object (format §3).</summary>
internal sealed class KeyFileDocument
{
    public int Version { get; set; }

    public string Kdf { get; set; } = string.Empty;

    public int MemoryKiB { get; set; }

    public int Iterations { get; set; }

    public int Parallelism { get; set; }

    public string Salt { get; set; } = string.Empty;

    public string Nonce { get; set; } = string.Empty;

    public string Wrapped { get; set; } = string.Empty;

    public DateTimeOffset Created { get; set; }
}
