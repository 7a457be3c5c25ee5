using System.Buffers.Binary;
using Backup.Repository.Crypto;
using Backup.Repository.Errors;

namespace Backup.Repository.Packs;

/// <summary>Reads the trailer of a whole pack (used by verify and index repair).</summary>
internal static class PackReader
{
    public static IReadOnlyList<PackEntry> ReadEntries(ReadOnlySpan<byte> pack, string objectKey, BlobSealer sealer)
    {
        if (pack.Length < PackLayout.FooterLength)
        {
            throw new RepositoryCorruptException(objectKey, $"pack is truncated ({pack.Length} bytes, shorter than its footer)");
        }

        var footer = pack[^PackLayout.FooterLength..];
        if (!footer.Slice(4, 6).SequenceEqual(PackLayout.Magic))
        {
            throw new RepositoryCorruptException(objectKey, "pack footer is missing (truncated or not a pack)");
        }

        if (footer[10] != PackLayout.Version)
        {
            throw new UnsupportedFormatVersionException(objectKey, "pack version", footer[10], PackLayout.Version);
        }

        var trailerLength = BinaryPrimitives.ReadUInt32LittleEndian(footer);
        if (trailerLength > pack.Length - PackLayout.FooterLength)
        {
            throw new RepositoryCorruptException(objectKey, $"pack trailer length {trailerLength} exceeds the pack");
        }

        var trailerStart = pack.Length - PackLayout.FooterLength - (int)trailerLength;
        var trailer = sealer.Open(pack.Slice(trailerStart, (int)trailerLength), AssociatedData.PackTrailer, objectKey, "pack trailer");
        if (trailer.Length < 4)
        {
            throw new RepositoryCorruptException(objectKey, "pack trailer is empty");
        }

        var count = BinaryPrimitives.ReadUInt32LittleEndian(trailer);
        if (trailer.Length != 4 + ((long)count * PackEntry.EncodedLength))
        {
            throw new RepositoryCorruptException(objectKey, $"pack trailer announces {count} blobs but holds {trailer.Length} bytes");
        }

        var entries = new PackEntry[count];
        for (var i = 0; i < count; i++)
        {
            var entry = PackEntryCodec.Read(trailer.AsSpan(4 + (i * PackEntry.EncodedLength)), objectKey);
            if ((long)entry.Offset + entry.SealedLength > trailerStart)
            {
                throw new RepositoryCorruptException(objectKey, $"pack trailer places blob {entry.Id.ToShortString()} outside the pack");
            }

            entries[i] = entry;
        }

        return entries;
    }
}
