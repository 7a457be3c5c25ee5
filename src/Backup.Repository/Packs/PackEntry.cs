using Backup.Repository.Blobs;

namespace Backup.Repository.Packs;

/// <summary>One blob inside a pack (an entry of the pack trailer and of index files, format §6).</summary>
/// <param name="Type">What the blob holds.</param>
/// <param name="Id">Content id.</param>
/// <param name="Offset">Offset of the sealed blob in the pack.</param>
/// <param name="SealedLength">Length of the sealed blob.</param>
/// <param name="PlainLength">Length of the content after opening.</param>
public readonly record struct PackEntry(BlobType Type, BlobId Id, uint Offset, uint SealedLength, uint PlainLength)
{
    /// <summary>Encoded size: type, id, three u32.</summary>
    public const int EncodedLength = 1 + BlobId.Length + 12;
}
