using Backup.Repository.Blobs;

namespace Backup.Repository.Writing;

/// <summary>Which chunks of a disk a write reads; the parent's chunk ids fill the others (null: everything is read).</summary>
internal sealed record DiskReadPlan(IReadOnlyList<(long First, long Count)> Runs, BlobId[]? ParentChunks, string? FullReadReason);
