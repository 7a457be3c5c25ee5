namespace Backup.Service.Catalog;

/// <summary>The statuses a job row can have.</summary>
public static class JobStatus
{
    public const string Running = "running";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    public const string Skipped = "skipped";
    public const string Interrupted = "interrupted";
}
