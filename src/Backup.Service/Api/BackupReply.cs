namespace Backup.Service.Api;

/// <summary>
/// The answer to POST /api/vms/{name}/backup: the job and, when one was committed, the restore point, with why any disk
/// was read in full and why an application-consistent cut fell back to crash-consistent (<paramref name="ConsistencyNote"/>).
/// </summary>
public sealed record BackupReply(long Job, string Status, string? Message, string? Point, string? Parent, string? Consistency,
    double StunMilliseconds, long DiskBytes, long ChangedBytes, long UploadedBytes, double Seconds, IReadOnlyList<string>? FullReads,
    string? ConsistencyNote = null);
