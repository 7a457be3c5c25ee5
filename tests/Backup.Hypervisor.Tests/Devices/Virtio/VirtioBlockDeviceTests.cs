using System.Text;
using Backup.Hypervisor.Devices.Virtio;
using static Backup.Hypervisor.Devices.Virtio.VirtioBlockProtocol;
using static Backup.Hypervisor.Tests.Devices.Virtio.VirtioBlockTestBench;

namespace Backup.Hypervisor.Tests.Devices.Virtio;

public sealed class VirtioBlockDeviceTests : IDisposable
{
    private readonly VirtioBlockTestBench _bench = new();

    public void Dispose() => _bench.Dispose();

    [Fact]
    public void Identifies_as_a_modern_block_device_with_its_capacity()
    {
        Assert.Equal(0x74726976u, _bench.Reg(0x000));
        Assert.Equal(2u, _bench.Reg(0x004));
        Assert.Equal(2u, _bench.Reg(0x008));
        Assert.Equal(VirtioMmioTransport.VendorIdValue, _bench.Reg(0x00C));

        ulong features = _bench.OfferedFeatures();
        Assert.Equal(VirtioFeatures.Version1, features & VirtioFeatures.Version1);
        Assert.Equal(VirtioFeatures.RingIndirectDescriptors, features & VirtioFeatures.RingIndirectDescriptors);
        Assert.Equal(FeatureFlush | FeatureSegMax, features & (FeatureFlush | FeatureSegMax));
        Assert.Equal(0UL, features & (VirtioFeatures.RingEventIndex | FeatureReadOnly));

        _bench.SetReg(QueueSel, 0);
        Assert.Equal(16u, _bench.Reg(QueueNumMax));
        _bench.SetReg(QueueSel, 1);
        Assert.Equal(0u, _bench.Reg(QueueNumMax));

        Assert.Equal((ulong)DiskSectors, _bench.Transport.Read(0x100, 8));
        Assert.Equal((ulong)DiskSectors, _bench.Transport.Read(0x100, 4));
        Assert.Equal(0UL, _bench.Transport.Read(0x104, 4));
        Assert.Equal((ulong)DiskSectors, _bench.Transport.Read(0x100, 1));
        Assert.Equal(14UL, _bench.Transport.Read(0x10C, 4)); // seg_max = queue size - 2
        Assert.Equal(512UL, _bench.Transport.Read(0x114, 4)); // blk_size
        Assert.Equal(0UL, _bench.Transport.Read(0x100 + 64, 4)); // past the config space
        Assert.Equal(0UL, _bench.Transport.Read(0x13E, 4));       // straddles its end
    }

    [Fact]
    public void Features_ok_requires_version_1_and_a_subset_of_the_offer()
    {
        ulong offered = _bench.OfferedFeatures();
        Assert.False(_bench.Negotiate(offered & ~VirtioFeatures.Version1));
        Assert.False(_bench.Negotiate(offered | VirtioFeatures.RingEventIndex));
        Assert.NotNull(_bench.Transport.LastError);
        Assert.True(_bench.Negotiate(VirtioFeatures.Version1));
        Assert.Equal(VirtioFeatures.Version1, _bench.Transport.NegotiatedFeatures);

        // Features are frozen once FEATURES_OK is set.
        _bench.SetReg(0x024, 0);
        _bench.SetReg(0x020, uint.MaxValue);
        Assert.Equal(VirtioFeatures.Version1, _bench.Transport.NegotiatedFeatures);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Read_returns_the_disk_contents(bool indirect)
    {
        _bench.Start();
        ulong data = _bench.Alloc(3 * 512, 0xEE);
        var (status, used) = _bench.Request(RequestIn, 3, data, 3 * 512, dataWritable: true, indirect);

        Assert.Equal(StatusOk, status);
        Assert.Equal(3u * 512 + 1, used);
        Assert.Equal(InitialContent().AsSpan(3 * 512, 3 * 512).ToArray(), _bench.Span(data, 3 * 512).ToArray());
        Assert.True(_bench.Line.Level);
        Assert.Equal(1u, _bench.Reg(InterruptStatus));

        _bench.SetReg(InterruptAck, 1);
        Assert.False(_bench.Line.Level);
        Assert.Equal(0u, _bench.Reg(InterruptStatus));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Write_reaches_the_file_and_reads_back(bool indirect)
    {
        _bench.Start();
        ulong data = _bench.Alloc(1024);
        var payload = Enumerable.Range(0, 1024).Select(i => (byte)(i * 13)).ToArray();
        payload.CopyTo(_bench.Span(data, 1024));

        var (status, used) = _bench.Request(RequestOut, 10, data, 1024, dataWritable: false, indirect);
        Assert.Equal(StatusOk, status);
        Assert.Equal(1u, used);

        var expected = InitialContent();
        payload.CopyTo(expected, 10 * 512);
        Assert.Equal(expected, _bench.ReadDiskFile());

        ulong back = _bench.Alloc(1024);
        Assert.Equal(StatusOk, _bench.Request(RequestIn, 10, back, 1024, dataWritable: true).Status);
        Assert.Equal(payload, _bench.Span(back, 1024).ToArray());
    }

    [Fact]
    public void Requests_split_across_arbitrary_descriptors_are_reassembled()
    {
        _bench.Start();
        ulong header = _bench.Header(RequestOut, 2);
        ulong data = _bench.Alloc(512);
        _bench.Span(data, 512).Fill(0x77);
        ulong status = _bench.Alloc(1, 0xFF);

        // Header split 5 + 11, data split 100 + 412, status alone.
        var (s, used) = _bench.Submit(status, indirect: true,
            new GuestSegment(header, 5, false), new GuestSegment(header + 5, 11, false),
            new GuestSegment(data, 100, false), new GuestSegment(data + 100, 412, false),
            new GuestSegment(status, 1, true));
        Assert.Equal(StatusOk, s);
        Assert.Equal(1u, used);
        Assert.All(_bench.ReadDiskFile().AsSpan(2 * 512, 512).ToArray(), b => Assert.Equal(0x77, b));

        // A read whose data and status share one writable descriptor.
        ulong readHeader = _bench.Header(RequestIn, 2);
        ulong tail = _bench.Alloc(513, 0xFF);
        var (s2, used2) = _bench.Submit(tail + 512, indirect: false,
            new GuestSegment(readHeader, 16, false), new GuestSegment(tail, 513, true));
        Assert.Equal(StatusOk, s2);
        Assert.Equal(513u, used2);
        Assert.All(_bench.Span(tail, 512).ToArray(), b => Assert.Equal(0x77, b));
    }

    [Fact]
    public void Flush_succeeds()
    {
        _bench.Start();
        var (status, used) = _bench.Request(RequestFlush, 0, 0, 0, dataWritable: false);
        Assert.Equal(StatusOk, status);
        Assert.Equal(1u, used);
    }

    [Fact]
    public void Get_id_returns_the_serial_zero_padded_to_20_bytes()
    {
        _bench.Start();
        ulong id = _bench.Alloc(20, 0xFF);
        var (status, used) = _bench.Request(RequestGetId, 0, id, 20, dataWritable: true);
        Assert.Equal(StatusOk, status);
        Assert.Equal(21u, used);
        var expected = new byte[20];
        Encoding.ASCII.GetBytes("backup-disk-0").CopyTo(expected, 0);
        Assert.Equal(expected, _bench.Span(id, 20).ToArray());
    }

    [Fact]
    public void Unknown_request_types_are_unsupported()
    {
        _bench.Start();
        ulong data = _bench.Alloc(512);
        Assert.Equal(StatusUnsupported, _bench.Request(11, 0, data, 512, dataWritable: false).Status); // DISCARD
        Assert.Equal(StatusUnsupported, _bench.Request(0xDEAD, 0, data, 512, dataWritable: true).Status);
        Assert.False(_bench.NeedsReset);
    }

    [Fact]
    public void Consecutive_requests_wrap_the_rings()
    {
        _bench.Start();
        for (int i = 0; i < 3 * QueueSize; i++)
        {
            _bench.ResetAllocator();
            ulong data = _bench.Alloc(512);
            var (status, used) = _bench.Request(RequestIn, (ulong)(i % DiskSectors), data, 512, dataWritable: true, indirect: i % 2 == 0);
            Assert.Equal(StatusOk, status);
            Assert.Equal(513u, used);
            Assert.Equal(InitialContent().AsSpan(i % DiskSectors * 512, 512).ToArray(), _bench.Span(data, 512).ToArray());
        }

        Assert.Equal((ushort)(3 * QueueSize), _bench.UsedIndex);
    }

    [Fact]
    public void No_interrupt_flag_suppresses_the_used_buffer_interrupt()
    {
        _bench.Start();
        _bench.SetAvailFlags(1);
        Assert.Equal(StatusOk, _bench.Request(RequestFlush, 0, 0, 0, false).Status);
        Assert.False(_bench.Line.Level);
        Assert.Equal(0u, _bench.Reg(InterruptStatus));
    }

    [Fact]
    public void Notifications_before_driver_ok_are_ignored()
    {
        Assert.True(_bench.Negotiate());
        _bench.SetupQueue();
        ulong status = _bench.Alloc(1, 0xFF);
        _bench.Publish(_bench.WriteDirectChain(new GuestSegment(_bench.Header(RequestFlush, 0), 16, false), new GuestSegment(status, 1, true)));
        _bench.Notify();
        Assert.Equal(0, _bench.UsedIndex);

        _bench.DriverOk();
        _bench.Notify();
        Assert.Equal(1, _bench.UsedIndex);
        Assert.Equal(StatusOk, _bench.Span(status, 1)[0]);
    }

    [Fact]
    public void Status_zero_resets_queues_features_and_interrupts()
    {
        _bench.Start();
        Assert.Equal(StatusOk, _bench.Request(RequestFlush, 0, 0, 0, false).Status);
        Assert.True(_bench.Line.Level);

        _bench.SetReg(Status, 0);
        Assert.Equal(0u, _bench.Reg(Status));
        Assert.Equal(0u, _bench.Reg(QueueReady));
        Assert.Equal(0u, _bench.Reg(InterruptStatus));
        Assert.Equal(0UL, _bench.Transport.NegotiatedFeatures);
        Assert.False(_bench.Line.Level);

        _bench.Start();
        Assert.Equal(StatusOk, _bench.Request(RequestFlush, 0, 0, 0, false).Status);
    }
}
