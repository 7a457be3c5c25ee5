namespace Backup.Hypervisor.Snapshots;

/// <summary>
/// What a state file says about itself (docs/vm-state-format.md): its id, the checkpoint it is incremental to
/// (<see cref="Guid.Empty"/> for a full one) and the shape of the machine it was taken from.
/// </summary>
public sealed record VmStateHeader(
    Guid Id,
    Guid ParentId,
    DateTimeOffset Created,
    ulong RamSize,
    int HartCount,
    int DiskCount,
    bool AgentChannel)
{
    public bool IsIncremental => ParentId != Guid.Empty;
}
