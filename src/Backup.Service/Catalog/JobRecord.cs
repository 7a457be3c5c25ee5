namespace Backup.Service.Catalog;

/// <summary>One job (a backup, a retention run) and how it ended.</summary>
public sealed record JobRecord
{
    public long Id { get; init; }

    /// <summary>"backup" or "retention".</summary>
    public required string Kind { get; init; }

    public required string Vm { get; init; }

    public string? Policy { get; init; }

    /// <summary>What started it: "schedule", "missed run", "cli", "api".</summary>
    public required string Trigger { get; init; }

    public required DateTimeOffset Started { get; init; }

    public DateTimeOffset? Ended { get; init; }

    /// <summary>"running", "succeeded", "failed", "skipped" or "interrupted" (the appliance stopped while it ran).</summary>
    public required string Status { get; init; }

    public string? Message { get; init; }

    public string? Point { get; init; }
}
