namespace Backup.Service.Api;

/// <summary>
/// Body of POST /api/vms/{name}/probe: <paramref name="Kind"/> "ping", "tcp" or "http"; the port (tcp, http), the HTTP
/// path and expectations, the NIC whose network carries the probe and a timeout in seconds (default 5).
/// </summary>
public sealed record ProbeCommand(string Kind, int Port = 0, string? Path = null, int? ExpectStatus = null, string? ExpectBody = null, int Nic = 0, double TimeoutSeconds = 5);
