using Backup.Disks.BlockDevices;

namespace Backup.Hypervisor.Tests.Machine;

/// <summary>
/// An in-memory disk that fails the way a broken backend might: each operation throws what its factory makes
/// (null: the operation works). Used to inject host-side faults through the public disk seam of a VM.
/// </summary>
public sealed class FaultyDisk : IBlockDevice
{
    private readonly byte[] _content;

    public FaultyDisk(int length) => _content = new byte[length];

    public Func<Exception>? ReadFault { get; init; }

    public Func<Exception>? WriteFault { get; init; }

    public Func<Exception>? FlushFault { get; init; }

    public long Length => _content.Length;

    public bool IsReadOnly => false;

    public int Reads { get; private set; }

    public void Read(long offset, Span<byte> buffer)
    {
        Reads++;
        if (ReadFault is { } fault)
        {
            throw fault();
        }

        _content.AsSpan((int)offset, buffer.Length).CopyTo(buffer);
    }

    public void Write(long offset, ReadOnlySpan<byte> buffer)
    {
        if (WriteFault is { } fault)
        {
            throw fault();
        }

        buffer.CopyTo(_content.AsSpan((int)offset));
    }

    public void Flush()
    {
        if (FlushFault is { } fault)
        {
            throw fault();
        }
    }

    public void Dispose()
    {
    }
}
