namespace Backup.Hypervisor.Agent;

/// <summary>guest-get-osinfo (fields the guest did not send are null), from /etc/os-release and uname.</summary>
public sealed record QgaOsInfo(
    string? Id,
    string? Name,
    string? PrettyName,
    string? Version,
    string? VersionId,
    string? KernelRelease,
    string? KernelVersion,
    string? Machine);
