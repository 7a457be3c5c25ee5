using Backup.Disks.BlockDevices;

namespace Backup.Disks.Tests.Snapshots;

/// <summary>
/// A real raw disk that counts calls overlapping in time (it lingers briefly in each call to make overlaps likely).
/// Stands for a device that is only safe for one caller at a time, such as an image format with internal caches.
/// </summary>
public sealed class OneCallerAtATimeDisk(RawFileDisk inner) : IBlockDevice
{
    private int _inside;
    private int _overlaps;

    public int Overlaps => Volatile.Read(ref _overlaps);

    public long Length => inner.Length;

    public bool IsReadOnly => inner.IsReadOnly;

    public void Read(long offset, Span<byte> buffer)
    {
        Enter();
        inner.Read(offset, buffer);
        Leave();
    }

    public void Write(long offset, ReadOnlySpan<byte> buffer)
    {
        Enter();
        inner.Write(offset, buffer);
        Leave();
    }

    public void Flush() => inner.Flush();

    public void Dispose() => inner.Dispose();

    private void Enter()
    {
        if (Interlocked.Increment(ref _inside) != 1)
        {
            Interlocked.Increment(ref _overlaps);
        }

        Thread.SpinWait(2000);
    }

    private void Leave() => Interlocked.Decrement(ref _inside);
}
