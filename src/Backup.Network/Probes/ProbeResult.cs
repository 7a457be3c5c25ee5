using Backup.Network.Endpoint;

namespace Backup.Network.Probes;

/// <summary>
/// The outcome of one probe: <see cref="Success"/>, how long it took, and on failure the <see cref="Failure"/> kind and
/// a <see cref="Reason"/> a person can act on. HTTP probes also carry the status code and the start of the body.
/// </summary>
public sealed record ProbeResult(
    string Target,
    bool Success,
    TimeSpan Elapsed,
    NetworkFailure Failure,
    string Reason,
    int? StatusCode = null,
    string? BodyPrefix = null)
{
    /// <summary>A success.</summary>
    public static ProbeResult Passed(string target, TimeSpan elapsed, string reason, int? status = null, string? body = null) =>
        new(target, true, elapsed, NetworkFailure.None, reason, status, body);

    /// <summary>A failure.</summary>
    public static ProbeResult Failed(string target, TimeSpan elapsed, NetworkFailure failure, string reason, int? status = null, string? body = null) =>
        new(target, false, elapsed, failure, reason, status, body);

    /// <inheritdoc />
    public override string ToString() =>
        $"{Target}: {(Success ? "ok" : $"FAILED ({Failure})")} in {Elapsed.TotalMilliseconds:0.0} ms: {Reason}";
}
