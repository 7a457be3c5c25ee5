using System.Text.Json.Serialization;

namespace Backup.Repository.Locks;

/// <summary>
/// The content of a <c>locks/&lt;16 hex&gt;</c> object: who holds it, since when, and when it was last refreshed.
/// </summary>
public sealed record LockInfo
{
    /// <summary>Lock file format version.</summary>
    public int Version { get; init; } = 1;

    [JsonConverter(typeof(JsonStringEnumConverter<LockKind>))]
    public LockKind Kind { get; init; }

    /// <summary>What the holder is doing ("backup", "gc", ...), for messages.</summary>
    public string Operation { get; init; } = string.Empty;

    public string Host { get; init; } = string.Empty;

    public int Pid { get; init; }

    /// <summary>Identifies the appliance (several appliances may share one bucket).</summary>
    public string ApplianceId { get; init; } = string.Empty;

    public DateTimeOffset Created { get; init; }

    /// <summary>Last time the holder proved it is alive; a lock not refreshed within the stale age is stale.</summary>
    public DateTimeOffset Refreshed { get; init; }

    /// <summary>The object key (not stored in the object).</summary>
    [JsonIgnore]
    public string Key { get; init; } = string.Empty;

    /// <summary>True when not refreshed for <paramref name="staleAfter"/> at <paramref name="now"/>.</summary>
    public bool IsStale(DateTimeOffset now, TimeSpan staleAfter) => now - Refreshed > staleAfter;

    /// <summary>One line for messages.</summary>
    public string Describe() =>
        $"{Kind.ToString().ToLowerInvariant()} lock {Key} held by {Operation} on host '{Host}' pid {Pid} (appliance {ApplianceId}), created {Created:u}, refreshed {Refreshed:u}";
}
