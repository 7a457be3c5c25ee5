using System.Buffers.Binary;
using System.Security.Cryptography;
using Backup.Repository.Blobs;
using Backup.Repository.Crypto;

namespace Backup.Repository.Packs;

/// <summary>Accumulates sealed blobs into one pack and finishes it with the sealed trailer and footer (format §6).</summary>
internal sealed class PackWriter
{
    private readonly List<byte[]> _blobs = [];
    private long _size;
    private readonly List<PackEntry> _entries = [];

    public long Size => _size;

    public int Count => _entries.Count;

    public void Add(BlobType type, BlobId id, byte[] sealedBlob, int plainLength)
    {
        if (_size + sealedBlob.Length > uint.MaxValue / 2)
        {
            throw new InvalidOperationException("pack would exceed 2 GiB");
        }

        _entries.Add(new PackEntry(type, id, (uint)_size, (uint)sealedBlob.Length, (uint)plainLength));
        _blobs.Add(sealedBlob);
        _size += sealedBlob.Length;
    }

    /// <summary>Appends trailer and footer; returns the pack id (SHA-256 of the bytes), the bytes and the entries.</summary>
    public (BlobId Id, byte[] Bytes, IReadOnlyList<PackEntry> Entries) Finish(BlobSealer sealer)
    {
        var trailer = new byte[4 + (_entries.Count * PackEntry.EncodedLength)];
        BinaryPrimitives.WriteUInt32LittleEndian(trailer, (uint)_entries.Count);
        for (var i = 0; i < _entries.Count; i++)
        {
            PackEntryCodec.Write(trailer.AsSpan(4 + (i * PackEntry.EncodedLength)), _entries[i]);
        }

        var sealedTrailer = sealer.Seal(trailer, AssociatedData.PackTrailer);
        var bytes = new byte[_size + sealedTrailer.Length + PackLayout.FooterLength];
        var position = 0;
        foreach (var blob in _blobs)
        {
            blob.CopyTo(bytes, position);
            position += blob.Length;
        }

        sealedTrailer.CopyTo(bytes, position);
        var footer = bytes.AsSpan(position + sealedTrailer.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(footer, (uint)sealedTrailer.Length);
        PackLayout.Magic.CopyTo(footer[4..]);
        footer[10] = PackLayout.Version;
        footer[11] = 0;
        return (new BlobId(SHA256.HashData(bytes)), bytes, _entries.ToArray());
    }
}
