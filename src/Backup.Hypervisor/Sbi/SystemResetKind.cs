namespace Backup.Hypervisor.Sbi;

/// <summary>What the guest asked the firmware for through SBI SRST or the legacy shutdown call.</summary>
public enum SystemResetKind
{
    Shutdown,
    Reboot,
}
