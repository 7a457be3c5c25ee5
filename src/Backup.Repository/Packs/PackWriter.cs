using System.Buffers.Binary;
using System.Security.Cryptography;
using Backup.Repository.Blobs;
using Backup.Repository.Crypto;

namespace Backup.Repository.Packs;

/// <summary>
/// Accumulates sealed blobs into one pack and finishes it with the sealed trailer and footer (format §6). Blobs are
/// copied into one contiguous buffer as they are added (pinned, aligned for direct I/O, reused from a pool), so a
/// finished pack is uploaded from that buffer without another copy.
/// </summary>
internal sealed class PackWriter : IDisposable
{
    private readonly List<PackEntry> _entries = [];
    private PackBuffer? _buffer;
    private long _size;

    public long Size => _size;

    public int Count => _entries.Count;

    public void Add(BlobType type, BlobId id, ReadOnlySpan<byte> sealedBlob, int plainLength)
    {
        if (_size + sealedBlob.Length > uint.MaxValue / 2)
        {
            throw new InvalidOperationException("pack would exceed 2 GiB");
        }

        EnsureCapacity(_size + sealedBlob.Length);
        sealedBlob.CopyTo(_buffer!.Span[(int)_size..]);
        _entries.Add(new PackEntry(type, id, (uint)_size, (uint)sealedBlob.Length, (uint)plainLength));
        _size += sealedBlob.Length;
    }

    /// <summary>
    /// Appends trailer and footer and hashes the pack (its id is the SHA-256 of its bytes). The returned pack owns the
    /// buffer from then on (dispose it once uploaded); this writer is empty afterwards.
    /// </summary>
    public FinishedPack Finish(BlobSealer sealer)
    {
        var trailer = new byte[4 + (_entries.Count * PackEntry.EncodedLength)];
        BinaryPrimitives.WriteUInt32LittleEndian(trailer, (uint)_entries.Count);
        for (var i = 0; i < _entries.Count; i++)
        {
            PackEntryCodec.Write(trailer.AsSpan(4 + (i * PackEntry.EncodedLength)), _entries[i]);
        }

        var sealedTrailer = sealer.Seal(trailer, AssociatedData.PackTrailer);
        var length = _size + sealedTrailer.Length + PackLayout.FooterLength;
        EnsureCapacity(length);
        var span = _buffer!.Span;
        var position = (int)_size;
        sealedTrailer.CopyTo(span[position..]);
        var footer = span.Slice(position + sealedTrailer.Length, PackLayout.FooterLength);
        BinaryPrimitives.WriteUInt32LittleEndian(footer, (uint)sealedTrailer.Length);
        PackLayout.Magic.CopyTo(footer[4..]);
        footer[10] = PackLayout.Version;
        footer[11] = 0;
        var bytes = span[..(int)length];
        var pack = new FinishedPack(new BlobId(SHA256.HashData(bytes)), _buffer, (int)length, _entries.ToArray());
        _buffer = null;
        _entries.Clear();
        _size = 0;
        return pack;
    }

    /// <summary>Returns the buffer of an unfinished pack to the pool.</summary>
    public void Dispose()
    {
        _buffer?.Return();
        _buffer = null;
    }

    private void EnsureCapacity(long needed)
    {
        if (_buffer is null)
        {
            _buffer = PackBuffer.Rent(needed);
        }
        else if (_buffer.Length < needed)
        {
            var larger = PackBuffer.Rent(Math.Max(needed, (long)_buffer.Length * 2));
            _buffer.Span[..(int)_size].CopyTo(larger.Span);
            _buffer.Return();
            _buffer = larger;
        }
    }
}
