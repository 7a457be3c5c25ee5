namespace Backup.Policies.Model;

/// <summary>The kind of storage a policy's repository URL names.</summary>
public enum RepositoryKind
{
    /// <summary>A folder on the appliance (a path, or <c>file:///path</c>).</summary>
    Folder,

    /// <summary>An S3-compatible bucket: <c>s3://bucket/prefix[?endpoint=...]</c>.</summary>
    S3,

    /// <summary>An Azure blob container: <c>azure://container/prefix</c>.</summary>
    Azure,
}
