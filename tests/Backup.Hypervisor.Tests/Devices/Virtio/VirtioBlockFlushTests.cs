using static Backup.Hypervisor.Devices.Virtio.VirtioBlockProtocol;
using static Backup.Hypervisor.Tests.Devices.Virtio.VirtioBlockTestBench;

namespace Backup.Hypervisor.Tests.Devices.Virtio;

/// <summary>
/// VIRTIO_BLK_T_FLUSH reaches the host disk's Flush, after the writes the guest completed before it, and a disk
/// whose flush fails gives the guest VIRTIO_BLK_S_IOERR for that request only: the device keeps serving.
/// The disk is a <see cref="WriteBackCacheDisk"/>, so written data is in the image file only if the flush got there.
/// </summary>
public sealed class VirtioBlockFlushTests : IDisposable
{
    private readonly WriteBackCacheDisk _cache;
    private readonly VirtioBlockTestBench _bench;

    public VirtioBlockFlushTests()
    {
        WriteBackCacheDisk? cache = null;
        _bench = new VirtioBlockTestBench(wrapDisk: raw => cache = new WriteBackCacheDisk(raw));
        _cache = cache!;
    }

    public void Dispose() => _bench.Dispose();

    private ulong WriteSectors(ulong sector, int count, byte fill)
    {
        ulong data = _bench.Alloc(count * 512, fill);
        Assert.Equal(StatusOk, _bench.Request(RequestOut, sector, data, (uint)(count * 512), dataWritable: false).Status);
        return data;
    }

    private byte[] FileSectors(int sector, int count) => _bench.ReadDiskFile().AsSpan(sector * 512, count * 512).ToArray();

    [Fact]
    public void The_guests_flush_reaches_the_disk_and_persists_the_writes_completed_before_it()
    {
        _bench.Start();
        WriteSectors(3, 2, 0xA5);
        WriteSectors(9, 1, 0x5A);
        Assert.Equal(0, _cache.Flushes);
        Assert.NotEqual(Enumerable.Repeat((byte)0xA5, 1024), FileSectors(3, 2)); // still only in the disk's cache

        var (status, used) = _bench.Request(RequestFlush, 0, 0, 0, dataWritable: false);

        Assert.Equal(StatusOk, status);
        Assert.Equal(1u, used); // only the status byte is written
        Assert.Equal(1, _cache.Flushes);
        Assert.Equal(["write 3+2", "write 9+1", "flush 3,4,9"], _cache.Log);
        Assert.Equal(Enumerable.Repeat((byte)0xA5, 1024), FileSectors(3, 2));
        Assert.Equal(Enumerable.Repeat((byte)0x5A, 512), FileSectors(9, 1));
        Assert.Equal(InitialContent().AsSpan(5 * 512, 512).ToArray(), FileSectors(5, 1)); // nothing else touched
        Assert.Empty(_bench.Errors);
    }

    [Fact]
    public void Every_flush_request_reaches_the_disk_even_with_nothing_dirty()
    {
        _bench.Start();
        for (int i = 1; i <= 3; i++)
        {
            Assert.Equal(StatusOk, _bench.Request(RequestFlush, 0, 0, 0, dataWritable: false, indirect: i == 2).Status);
            Assert.Equal(i, _cache.Flushes);
        }
    }

    [Fact]
    public void A_flush_the_disk_fails_is_an_ioerr_for_that_request_and_the_device_keeps_serving()
    {
        _bench.Start();
        ulong written = WriteSectors(7, 1, 0x3C);
        _cache.FlushFailure = new IOException("simulated: the drive could not write its cache back");

        var (status, used) = _bench.Request(RequestFlush, 0, 0, 0, dataWritable: false);

        Assert.Equal(StatusIoError, status);
        Assert.Equal(1u, used);
        Assert.True(_bench.Line.Level); // the completion is signalled like any other
        Assert.False(_bench.NeedsReset); // a disk error is the request's failure, not a broken device
        Assert.Contains(_bench.Errors, e => e.Contains("flush failed", StringComparison.Ordinal) && e.Contains("simulated", StringComparison.Ordinal));
        Assert.Equal(0, _cache.Flushes);
        Assert.Equal([7L], _cache.DirtySectors); // not lost: still in the cache

        // The device goes on: reads see the data, and once the disk recovers a flush persists it.
        ulong readBack = _bench.Alloc(512);
        Assert.Equal(StatusOk, _bench.Request(RequestIn, 7, readBack, 512, dataWritable: true).Status);
        Assert.Equal(_bench.Span(written, 512).ToArray(), _bench.Span(readBack, 512).ToArray());

        _cache.FlushFailure = null;
        Assert.Equal(StatusOk, _bench.Request(RequestFlush, 0, 0, 0, dataWritable: false).Status);
        Assert.Equal(Enumerable.Repeat((byte)0x3C, 512), FileSectors(7, 1));
        Assert.Equal(["write 7+1", "flush failed", "flush 7"], _cache.Log);
    }
}
