using static Backup.Hypervisor.Devices.Virtio.VirtioBlockProtocol;

namespace Backup.Hypervisor.Tests.Devices.Virtio;

public sealed class VirtioBlockReadOnlyTests
{
    [Theory]
    [InlineData(true, false)]  // the image file is opened read-only
    [InlineData(false, true)]  // a writable image presented read-only
    public void Read_only_disks_offer_RO_refuse_writes_and_still_read(bool readOnlyFile, bool presentReadOnly)
    {
        using var bench = new VirtioBlockTestBench(readOnlyFile, presentReadOnly);
        Assert.Equal(FeatureReadOnly, bench.OfferedFeatures() & FeatureReadOnly);
        bench.Start();

        ulong data = bench.Alloc(512, 0x42);
        var (status, used) = bench.Request(RequestOut, 0, data, 512, dataWritable: false);
        Assert.Equal(StatusIoError, status);
        Assert.Equal(1u, used);
        Assert.Equal(VirtioBlockTestBench.InitialContent(), bench.ReadDiskFile());
        Assert.False(bench.NeedsReset);

        ulong back = bench.Alloc(512);
        Assert.Equal(StatusOk, bench.Request(RequestIn, 0, back, 512, dataWritable: true).Status);
        Assert.Equal(VirtioBlockTestBench.InitialContent().AsSpan(0, 512).ToArray(), bench.Span(back, 512).ToArray());
        Assert.Equal(StatusOk, bench.Request(RequestFlush, 0, 0, 0, false).Status);
    }
}
