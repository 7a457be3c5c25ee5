using System.Globalization;

namespace Backup.Hypervisor.Agent;

/// <summary>
/// The answer to a named check, as <c>key=value</c> pairs (e.g. <c>integrity=ok maxseq=42 count=42 badsum=0</c>
/// for the database check). Typed accessors cover the database check's fields.
/// </summary>
public sealed record GuestCheckResult(string Name, IReadOnlyDictionary<string, string> Values, string Raw)
{
    /// <summary>PRAGMA integrity_check's first line ("ok" when healthy).</summary>
    public string? Integrity => Values.GetValueOrDefault("integrity");

    /// <summary>The highest sequence number in the table.</summary>
    public long? MaxSequence => Number("maxseq");

    /// <summary>The number of rows.</summary>
    public long? Count => Number("count");

    /// <summary>Rows whose stored checksum does not match their content.</summary>
    public long? BadChecksums => Number("badsum");

    /// <summary>Healthy: integrity ok, no bad checksums and no gaps in the sequence.</summary>
    public bool Healthy => Integrity == "ok" && BadChecksums == 0 && Count == MaxSequence;

    public static GuestCheckResult Parse(string name, string payload)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string part in payload.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                values[part[..eq]] = part[(eq + 1)..];
            }
        }

        return new GuestCheckResult(name, values, payload);
    }

    private long? Number(string key) =>
        Values.TryGetValue(key, out string? s) && long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out long n) ? n : null;
}
