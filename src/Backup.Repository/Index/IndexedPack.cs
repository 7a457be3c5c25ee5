using Backup.Repository.Blobs;
using Backup.Repository.Packs;

namespace Backup.Repository.Index;

/// <summary>A pack as an index file describes it: id, length and the blobs it holds.</summary>
public sealed record IndexedPack(BlobId PackId, long Length, IReadOnlyList<PackEntry> Entries)
{
    /// <summary>The pack's object key.</summary>
    public string Key => PackLayout.KeyOf(PackId);
}
