namespace Backup.Repository.Blobs;

/// <summary>What a blob in a pack holds (the type byte of the pack trailer and index entries).</summary>
public enum BlobType : byte
{
    /// <summary>A chunk of a disk image or stream.</summary>
    Data = 1,

    /// <summary>A chunk map: the ordered ids of up to 4096 consecutive fixed chunks of a disk.</summary>
    ChunkMap = 2,
}
