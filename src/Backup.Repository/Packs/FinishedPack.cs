using Backup.Repository.Blobs;

namespace Backup.Repository.Packs;

/// <summary>
/// A pack ready to upload: its id, bytes and entries. The bytes live in a pooled buffer, returned by
/// <see cref="Dispose"/> once the pack is stored (after which <see cref="Bytes"/> must not be used).
/// </summary>
internal sealed class FinishedPack(BlobId id, PackBuffer buffer, int length, IReadOnlyList<PackEntry> entries) : IDisposable
{
    private PackBuffer? _buffer = buffer;

    public BlobId Id { get; } = id;

    public IReadOnlyList<PackEntry> Entries { get; } = entries;

    public int Length { get; } = length;

    public ReadOnlyMemory<byte> Bytes => (_buffer ?? throw new ObjectDisposedException(nameof(FinishedPack))).Memory[..Length];

    public void Dispose()
    {
        _buffer?.Return();
        _buffer = null;
    }
}
