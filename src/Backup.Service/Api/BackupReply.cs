namespace Backup.Service.Api;

/// <summary>The answer to POST /api/vms/{name}/backup: the job and, when one was committed, the restore point.</summary>
public sealed record BackupReply(long Job, string Status, string? Message, string? Point, string? Parent, string? Consistency,
    double StunMilliseconds, long DiskBytes, long ChangedBytes, long UploadedBytes, double Seconds, IReadOnlyList<string>? FullReads);
