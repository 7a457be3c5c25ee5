namespace Backup.Hypervisor.Agent;

/// <summary>guest-fsfreeze-status: whether the guest's file systems are frozen.</summary>
public enum QgaFreezeStatus
{
    Thawed,
    Frozen,
}
