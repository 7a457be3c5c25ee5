namespace Backup.Hypervisor.Machine;

/// <summary>Why a VM stopped running.</summary>
public enum VmExitKind
{
    /// <summary>The guest powered off (SBI SRST, syscon, legacy shutdown).</summary>
    PowerOff,

    /// <summary>The guest asked for a reboot; the host decides whether to start it again.</summary>
    Reboot,

    /// <summary>The guest reported failure through the test device, with an exit code.</summary>
    GuestFailure,

    /// <summary>A bare-metal program finished through HTIF (exit code 0 = pass).</summary>
    HtifExit,

    /// <summary>The host stopped the VM (cancellation, instruction limit).</summary>
    Stopped,

    /// <summary>The VM hit a condition it cannot continue from; <see cref="VmExit.Message"/> says which.</summary>
    Error,
}
