namespace Backup.Service.Api;

/// <summary>
/// A VM as `backup vm list` and GET /api/vms show it. <paramref name="CbtGranularities"/>: each disk's changed-block
/// tracking granularity in bytes as defined (a running VM applies a changed value at its next start).
/// <paramref name="Agents"/>: the guest agents the VM has, "qga" (the QEMU guest agent), "channel" (the agent UART),
/// both joined by '+', or "-".
/// </summary>
public sealed record VmStatus(string Name, bool Running, bool Autostart, ulong MemoryBytes, int Cpus, int Disks, string State, DateTimeOffset? StateChanged,
    IReadOnlyList<int>? CbtGranularities = null, string? Agents = null);
