namespace Backup.Hypervisor.Timing;

/// <summary>Where guest time comes from.</summary>
public enum ClockMode
{
    /// <summary>Guest time follows the host's wall clock (production VMs). Idle harts sleep.</summary>
    RealTime,

    /// <summary>Guest time is derived from retired instructions; idle time is skipped. Runs are reproducible.</summary>
    Deterministic,
}
