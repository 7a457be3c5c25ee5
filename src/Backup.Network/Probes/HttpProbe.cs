namespace Backup.Network.Probes;

/// <summary>An HTTP GET to probe: the path, the Host header, and what counts as success.</summary>
public sealed record HttpProbe
{
    /// <summary>The request path.</summary>
    public string Path { get; init; } = "/";

    /// <summary>The Host header (the guest's address when null).</summary>
    public string? Host { get; init; }

    /// <summary>The status code expected; null accepts any 2xx or 3xx.</summary>
    public int? ExpectedStatus { get; init; }

    /// <summary>Text the body must contain (within the first <see cref="MaxBodyBytes"/>); null checks nothing.</summary>
    public string? ExpectedBody { get; init; }

    /// <summary>Most response bytes read.</summary>
    public int MaxBodyBytes { get; init; } = 64 * 1024;
}
