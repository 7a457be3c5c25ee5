namespace Backup.Repository.Manifests;

/// <summary>One content-defined chunk of a stream: its id (hex) and length.</summary>
public sealed record ChunkReference(string Id, int Length);
