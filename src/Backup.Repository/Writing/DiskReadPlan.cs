using Backup.Repository.Blobs;

namespace Backup.Repository.Writing;

/// <summary>
/// Which chunks of a disk a write reads. <see cref="BaseChunks"/> (the base point's chunk ids) fill the chunks not
/// read; null when everything is read. <see cref="ParentChunks"/> is the same array when the base is the writer's
/// parent, so the changed-block map need not load it again.
/// </summary>
internal sealed record DiskReadPlan(IReadOnlyList<(long First, long Count)> Runs, BlobId[]? BaseChunks, BlobId[]? ParentChunks, string? FullReadReason);
