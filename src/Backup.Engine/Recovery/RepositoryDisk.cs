using System.Buffers;
using Backup.Disks.BlockDevices;
using Backup.Repository.Reading;

namespace Backup.Engine.Recovery;

/// <summary>
/// A read-only disk whose bytes come from a restore point, fetched chunk by chunk on first access through the
/// reader's chunk cache: the base of an instant-recovery overlay. Nothing is read before the guest asks for it.
/// </summary>
public sealed class RepositoryDisk : IBlockDevice
{
    private readonly RestorePointReader _reader;
    private readonly string _disk;

    public RepositoryDisk(RestorePointReader reader, string disk)
    {
        ArgumentNullException.ThrowIfNull(reader);
        _reader = reader;
        _disk = disk;
        Length = reader.DiskLength(disk);
    }

    /// <summary>"point/disk", for error messages and overlay identities.</summary>
    public string Identity => $"{_reader.Manifest.Id}/{_disk}";

    public long Length { get; }

    public bool IsReadOnly => true;

    public void Read(long offset, Span<byte> buffer)
    {
        byte[] rented = ArrayPool<byte>.Shared.Rent(buffer.Length);
        try
        {
            var task = _reader.ReadAsync(_disk, offset, rented.AsMemory(0, buffer.Length));
            if (!task.IsCompletedSuccessfully)
            {
                task.AsTask().GetAwaiter().GetResult();
            }

            rented.AsSpan(0, buffer.Length).CopyTo(buffer);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    public void Write(long offset, ReadOnlySpan<byte> buffer) =>
        throw new InvalidOperationException($"restore point disk {Identity} is read-only; writes go to its overlay");

    public void Flush()
    {
    }

    public void Dispose()
    {
    }
}
