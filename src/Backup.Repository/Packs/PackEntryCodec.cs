using System.Buffers.Binary;
using Backup.Repository.Blobs;
using Backup.Repository.Errors;

namespace Backup.Repository.Packs;

/// <summary>Binary encoding of pack entries, shared by pack trailers and index files.</summary>
internal static class PackEntryCodec
{
    public static void Write(Span<byte> destination, PackEntry entry)
    {
        destination[0] = (byte)entry.Type;
        entry.Id.WriteTo(destination[1..]);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[33..], entry.Offset);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[37..], entry.SealedLength);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[41..], entry.PlainLength);
    }

    public static PackEntry Read(ReadOnlySpan<byte> source, string objectKey)
    {
        var type = (BlobType)source[0];
        if (type is not (BlobType.Data or BlobType.ChunkMap))
        {
            throw new RepositoryCorruptException(objectKey, $"lists a blob of unknown type {source[0]}");
        }

        return new PackEntry(
            type,
            new BlobId(source.Slice(1, BlobId.Length)),
            BinaryPrimitives.ReadUInt32LittleEndian(source[33..]),
            BinaryPrimitives.ReadUInt32LittleEndian(source[37..]),
            BinaryPrimitives.ReadUInt32LittleEndian(source[41..]));
    }
}
