namespace Backup.Hypervisor.Cpu;

/// <summary>Run state of a hart as the machine schedules it.</summary>
public enum HartState
{
    /// <summary>Executing instructions.</summary>
    Running,

    /// <summary>In WFI: resumes when an enabled interrupt becomes pending.</summary>
    WaitingForInterrupt,

    /// <summary>Not started, or stopped through SBI HSM; only hart_start revives it.</summary>
    Stopped,
}
