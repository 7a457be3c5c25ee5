using Backup.Repository.Packs;

namespace Backup.Repository.Index;

/// <summary>Where a blob is stored: its pack and its entry in that pack.</summary>
public readonly record struct BlobLocation(IndexedPack Pack, PackEntry Entry);
