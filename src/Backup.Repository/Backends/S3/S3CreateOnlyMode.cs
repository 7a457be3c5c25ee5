namespace Backup.Repository.Backends.S3;

/// <summary>How <see cref="S3Backend"/> implements <see cref="PutMode.CreateNew"/>.</summary>
public enum S3CreateOnlyMode
{
    /// <summary>
    /// Probe once whether the server honours <c>If-None-Match: *</c> on PUT; use <see cref="ConditionalWrite"/> when it
    /// does and <see cref="CheckThenPut"/> when it does not (older S3-compatible servers such as s3rver).
    /// </summary>
    Auto,

    /// <summary>
    /// <c>If-None-Match: *</c> on PutObject and CompleteMultipartUpload: atomic create-only, enforced by the service
    /// (Amazon S3 since August 2024, MinIO, recent Ceph RGW). Servers that ignore the header silently overwrite.
    /// </summary>
    ConditionalWrite,

    /// <summary>
    /// HEAD, then PUT, then read back: create-only is guaranteed only among writers in this process (they are
    /// serialized per key); two processes racing on the same key can both succeed, the last write winning.
    /// </summary>
    CheckThenPut,
}
