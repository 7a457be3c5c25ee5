namespace Backup.Service.Api;

/// <summary>Body of POST /api/vms/{name}/backup: optional overrides of the policy's repository and consistency.</summary>
public sealed record BackupCommand(string? Repository, string? Passphrase, string? Consistency);
