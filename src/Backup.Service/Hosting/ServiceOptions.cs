using Backup.Service.Data;
using Backup.Service.Scheduling;

namespace Backup.Service.Hosting;

/// <summary>How to run the appliance service.</summary>
public sealed record ServiceOptions
{
    public required ApplianceData Data { get; init; }

    /// <summary>The protection plans to schedule (already parsed and validated).</summary>
    public IReadOnlyList<ProtectionPlan> Plans { get; init; } = [];

    /// <summary>Start the VMs marked autostart.</summary>
    public bool StartAutostartVms { get; init; } = true;

    /// <summary>Further VMs to start (e.g. `backup vm start NAME` without a running service).</summary>
    public IReadOnlyList<string> StartVms { get; init; } = [];

    /// <summary>Run the policy scheduler (false for a CLI-hosted foreground VM).</summary>
    public bool RunScheduler { get; init; } = true;

    /// <summary>What holds the data folder's lock, for other processes' refusals.</summary>
    public string Purpose { get; init; } = "backup serve";

    /// <summary>Log as JSON lines (unattended) rather than human-readable lines (a terminal).</summary>
    public bool JsonLogs { get; init; }

    /// <summary>Log to stderr (a foreground VM's console owns stdout).</summary>
    public bool LogToStandardError { get; init; }
}
