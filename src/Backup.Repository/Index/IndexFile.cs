using System.Buffers.Binary;
using Backup.Repository.Blobs;
using Backup.Repository.Errors;
using Backup.Repository.Packs;

namespace Backup.Repository.Index;

/// <summary>Binary payload of an <c>index/&lt;id&gt;</c> object before sealing (format §7).</summary>
internal static class IndexFile
{
    public const byte Version = 1;
    private static ReadOnlySpan<byte> Magic => "BKIDX"u8;

    public static byte[] Encode(IReadOnlyList<BlobId> superseded, IReadOnlyList<IndexedPack> packs)
    {
        var size = 5 + 1 + 4 + (superseded.Count * BlobId.Length) + 4;
        foreach (var pack in packs)
        {
            size += BlobId.Length + 8 + 4 + (pack.Entries.Count * PackEntry.EncodedLength);
        }

        var bytes = new byte[size];
        var span = bytes.AsSpan();
        Magic.CopyTo(span);
        span[5] = Version;
        var position = 6;
        BinaryPrimitives.WriteInt32LittleEndian(span[position..], superseded.Count);
        position += 4;
        foreach (var id in superseded)
        {
            id.WriteTo(span[position..]);
            position += BlobId.Length;
        }

        BinaryPrimitives.WriteInt32LittleEndian(span[position..], packs.Count);
        position += 4;
        foreach (var pack in packs)
        {
            pack.PackId.WriteTo(span[position..]);
            BinaryPrimitives.WriteInt64LittleEndian(span[(position + 32)..], pack.Length);
            BinaryPrimitives.WriteInt32LittleEndian(span[(position + 40)..], pack.Entries.Count);
            position += 44;
            foreach (var entry in pack.Entries)
            {
                PackEntryCodec.Write(span[position..], entry);
                position += PackEntry.EncodedLength;
            }
        }

        return bytes;
    }

    public static (IReadOnlyList<BlobId> Superseded, IReadOnlyList<IndexedPack> Packs) Decode(ReadOnlySpan<byte> bytes, string objectKey)
    {
        if (bytes.Length < 14 || !bytes[..5].SequenceEqual(Magic))
        {
            throw new RepositoryCorruptException(objectKey, "is not an index file (bad magic)");
        }

        if (bytes[5] != Version)
        {
            throw new UnsupportedFormatVersionException(objectKey, "index version", bytes[5], Version);
        }

        var reader = new SpanCursor(bytes, 6, objectKey);
        var supersededCount = reader.Count(BlobId.Length);
        var superseded = new BlobId[supersededCount];
        for (var i = 0; i < supersededCount; i++)
        {
            superseded[i] = reader.Id();
        }

        var packCount = reader.Count(44);
        var packs = new IndexedPack[packCount];
        for (var i = 0; i < packCount; i++)
        {
            var packId = reader.Id();
            var length = reader.Int64();
            var entryCount = reader.Count(PackEntry.EncodedLength);
            var entries = new PackEntry[entryCount];
            for (var j = 0; j < entryCount; j++)
            {
                entries[j] = PackEntryCodec.Read(reader.Take(PackEntry.EncodedLength), objectKey);
            }

            packs[i] = new IndexedPack(packId, length, entries);
        }

        if (!reader.AtEnd)
        {
            throw new RepositoryCorruptException(objectKey, "index file has trailing bytes");
        }

        return (superseded, packs);
    }

    private ref struct SpanCursor(ReadOnlySpan<byte> bytes, int position, string objectKey)
    {
        private readonly ReadOnlySpan<byte> _bytes = bytes;
        private int _position = position;

        public readonly bool AtEnd => _position == _bytes.Length;

        public ReadOnlySpan<byte> Take(int length)
        {
            if (length < 0 || _bytes.Length - _position < length)
            {
                throw new RepositoryCorruptException(objectKey, "index file is truncated");
            }

            var slice = _bytes.Slice(_position, length);
            _position += length;
            return slice;
        }

        public BlobId Id() => new(Take(BlobId.Length));

        public long Int64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

        public int Count(int itemLength)
        {
            var count = BinaryPrimitives.ReadInt32LittleEndian(Take(4));
            if (count < 0 || (long)count * itemLength > _bytes.Length - _position)
            {
                throw new RepositoryCorruptException(objectKey, $"index file announces {count} items, more than it holds");
            }

            return count;
        }
    }
}
