namespace Backup.Service.Api;

/// <summary>A VM as `backup vm list` and GET /api/vms show it.</summary>
public sealed record VmStatus(string Name, bool Running, bool Autostart, ulong MemoryBytes, int Cpus, int Disks, string State, DateTimeOffset? StateChanged);
