using System.Diagnostics;
using Backup.Disks.BlockDevices;

namespace Backup.Disks.Tests.Snapshots;

/// <summary>
/// A real raw disk whose reads from any thread other than the one that created it (the "VM thread") wait a while
/// before touching the file. A snapshot reader then sits between "is this block preserved?" and the actual read long
/// enough for the guest's first write to that block to land, which makes the copy-before-write race reproducible.
/// </summary>
public sealed class SlowReadsElsewhereDisk(RawFileDisk inner, TimeSpan delay) : IBlockDevice
{
    private readonly int _vmThread = Environment.CurrentManagedThreadId;

    public long Length => inner.Length;

    public bool IsReadOnly => inner.IsReadOnly;

    public void Read(long offset, Span<byte> buffer)
    {
        if (Environment.CurrentManagedThreadId != _vmThread)
        {
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < delay)
            {
                Thread.Yield();
            }
        }

        inner.Read(offset, buffer);
    }

    public void Write(long offset, ReadOnlySpan<byte> buffer) => inner.Write(offset, buffer);

    public void Flush() => inner.Flush();

    public void Dispose() => inner.Dispose();
}
