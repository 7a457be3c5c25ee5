using System.Buffers.Binary;
using Backup.Hypervisor.Devices.Virtio;
using static Backup.Hypervisor.Devices.Virtio.VirtioBlockProtocol;
using static Backup.Hypervisor.Tests.Devices.Virtio.VirtioBlockTestBench;

namespace Backup.Hypervisor.Tests.Devices.Virtio;

/// <summary>
/// Every malformed ring or request: the device never throws and never reaches outside guest RAM; it either completes
/// the request with VIRTIO_BLK_S_IOERR or sets DEVICE_NEEDS_RESET with a configuration-change interrupt.
/// </summary>
public sealed class VirtioBlockHostileGuestTests : IDisposable
{
    private readonly VirtioBlockTestBench _bench = new();

    public void Dispose() => _bench.Dispose();

    private void AssertIoError((byte Status, uint UsedLength) result)
    {
        Assert.Equal(StatusIoError, result.Status);
        Assert.Equal(1u, result.UsedLength);
        Assert.False(_bench.NeedsReset);
        Assert.NotNull(_bench.Transport.LastError);
        Assert.Equal(InitialContent(), _bench.ReadDiskFile());

        // The device keeps working afterwards.
        ulong data = _bench.Alloc(512);
        Assert.Equal(StatusOk, _bench.Request(RequestIn, 1, data, 512, dataWritable: true).Status);
    }

    private void AssertNeedsReset(string reasonFragment, ushort expectedUsed = 0)
    {
        Assert.True(_bench.NeedsReset);
        Assert.Equal(2u, _bench.Reg(InterruptStatus) & 2);
        Assert.True(_bench.Line.Level);
        Assert.Contains(reasonFragment, _bench.Transport.LastError, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(expectedUsed, _bench.UsedIndex);
        Assert.Equal(InitialContent(), _bench.ReadDiskFile());

        // Further notifications are ignored until the driver resets the device; then it works again.
        _bench.Notify();
        Assert.Equal(expectedUsed, _bench.UsedIndex);
        _bench.SetReg(InterruptAck, 3);
        _bench.Start();
        Assert.False(_bench.NeedsReset);
        ulong data = _bench.Alloc(512);
        Assert.Equal(StatusOk, _bench.Request(RequestIn, 1, data, 512, dataWritable: true).Status);
    }

    private void PublishAndNotify(ushort head)
    {
        _bench.Publish(head);
        _bench.Notify();
    }

    [Theory]
    [InlineData(0x1000UL, 512u)]                           // below RAM
    [InlineData(RamBase + RamSize, 512u)]                  // just past the end
    [InlineData(RamBase + RamSize - 256, 512u)]            // straddles the end
    [InlineData(RamBase + 0x20000, 0xFFFF_FE00u)]          // length larger than RAM
    [InlineData(0xFFFF_FFFF_FFFF_FF00UL, 512u)]            // address + length wraps around 2^64
    public void Data_descriptor_outside_ram_completes_with_ioerr(ulong address, uint length)
    {
        _bench.Start();
        AssertIoError(_bench.Request(RequestIn, 0, address, length, dataWritable: true));
        AssertIoError(_bench.Request(RequestOut, 0, address, length, dataWritable: false));
    }

    [Fact]
    public void Header_outside_ram_completes_with_ioerr()
    {
        _bench.Start();
        ulong status = _bench.Alloc(1, 0xFF);
        AssertIoError(_bench.Submit(status, false, new GuestSegment(0x10, 16, false), new GuestSegment(status, 1, true)));
    }

    [Fact]
    public void Descriptor_loop_needs_reset()
    {
        _bench.Start();
        ulong header = _bench.Header(RequestIn, 0);
        _bench.WriteDescriptor(DescriptorTable, 0, header, 16, DescNext, 1);
        _bench.WriteDescriptor(DescriptorTable, 1, header, 16, DescNext, 0);
        PublishAndNotify(0);
        AssertNeedsReset("loop");
    }

    [Fact]
    public void Self_referencing_descriptor_needs_reset()
    {
        _bench.Start();
        _bench.WriteDescriptor(DescriptorTable, 3, _bench.Header(RequestIn, 0), 16, DescNext, 3);
        PublishAndNotify(3);
        AssertNeedsReset("loop");
    }

    [Fact]
    public void Next_index_out_of_range_needs_reset()
    {
        _bench.Start();
        _bench.WriteDescriptor(DescriptorTable, 0, _bench.Header(RequestIn, 0), 16, DescNext, 500);
        PublishAndNotify(0);
        AssertNeedsReset("out of range");
    }

    [Fact]
    public void Head_index_out_of_range_needs_reset()
    {
        _bench.Start();
        PublishAndNotify(QueueSize);
        AssertNeedsReset("out of range");
    }

    [Fact]
    public void Indirect_table_inside_an_indirect_table_needs_reset()
    {
        _bench.Start();
        ulong nested = IndirectTable + 0x800;
        _bench.WriteDescriptor(IndirectTable, 0, nested, 32, DescIndirect, 0);
        _bench.WriteDescriptor(DescriptorTable, 0, IndirectTable, 16, DescIndirect, 0);
        PublishAndNotify(0);
        AssertNeedsReset("indirect descriptor inside an indirect table");
    }

    [Fact]
    public void Indirect_next_index_out_of_range_and_loops_need_reset()
    {
        _bench.Start();
        _bench.WriteDescriptor(IndirectTable, 0, _bench.Header(RequestIn, 0), 16, DescNext, 1);
        _bench.WriteDescriptor(IndirectTable, 1, _bench.Header(RequestIn, 0), 16, DescNext, 0);
        _bench.WriteDescriptor(DescriptorTable, 0, IndirectTable, 32, DescIndirect, 0);
        PublishAndNotify(0);
        AssertNeedsReset("loop");

        _bench.WriteDescriptor(IndirectTable, 0, _bench.Header(RequestIn, 0), 16, DescNext, 2);
        _bench.WriteDescriptor(DescriptorTable, 0, IndirectTable, 32, DescIndirect, 0);
        PublishAndNotify(0);
        AssertNeedsReset("out of range", expectedUsed: 1);
    }

    [Theory]
    [InlineData(RamBase + RamSize - 16, 32u)] // runs past the end of RAM
    [InlineData(0x40UL, 16u)]                 // below RAM
    [InlineData(IndirectTable, 24u)]          // not a whole number of descriptors
    [InlineData(IndirectTable, 0u)]           // empty
    [InlineData(IndirectTable, 0xFFFF_FFF0u)] // absurdly long
    public void Bad_indirect_tables_need_reset(ulong table, uint length)
    {
        _bench.Start();
        _bench.WriteDescriptor(DescriptorTable, 0, table, length, DescIndirect, 0);
        PublishAndNotify(0);
        AssertNeedsReset("indirect table");
    }

    [Fact]
    public void Indirect_table_aligned_to_8_bytes_is_accepted_as_linux_allocates_it()
    {
        _bench.Start();
        ulong status = _bench.Alloc(1, 0xFF);
        _bench.WriteDescriptor(IndirectTable + 8, 0, _bench.Header(RequestFlush, 0), 16, DescNext, 1);
        _bench.WriteDescriptor(IndirectTable + 8, 1, status, 1, DescWrite, 0);
        _bench.WriteDescriptor(DescriptorTable, 0, IndirectTable + 8, 32, DescIndirect, 0);
        PublishAndNotify(0);
        Assert.False(_bench.NeedsReset);
        Assert.Equal(StatusOk, _bench.Span(status, 1)[0]);
    }

    [Fact]
    public void Indirect_with_next_needs_reset()
    {
        _bench.Start();
        _bench.WriteDescriptor(IndirectTable, 0, _bench.Header(RequestFlush, 0), 16, 0, 0);
        _bench.WriteDescriptor(DescriptorTable, 0, IndirectTable, 16, DescIndirect | DescNext, 1);
        PublishAndNotify(0);
        AssertNeedsReset("VIRTQ_DESC_F_NEXT");
    }

    [Fact]
    public void Indirect_descriptor_without_the_feature_needs_reset()
    {
        _bench.Start(VirtioFeatures.Version1 | FeatureFlush);
        ulong status = _bench.Alloc(1, 0xFF);
        _bench.Publish(_bench.WriteIndirectChain(new GuestSegment(_bench.Header(RequestFlush, 0), 16, false), new GuestSegment(status, 1, true)));
        _bench.Notify();
        AssertNeedsReset("not negotiated");
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(8u)]
    [InlineData(15u)]
    public void Header_shorter_than_16_bytes_completes_with_ioerr(uint headerLength)
    {
        _bench.Start();
        ulong header = _bench.Header(RequestIn, 0);
        ulong data = _bench.Alloc(512, 0xAB);
        ulong status = _bench.Alloc(1, 0xFF);
        var segments = new List<GuestSegment>();
        if (headerLength > 0)
        {
            segments.Add(new GuestSegment(header, headerLength, false));
        }

        segments.Add(new GuestSegment(data, 512, true));
        segments.Add(new GuestSegment(status, 1, true));
        AssertIoError(_bench.Submit(status, false, [.. segments]));
        Assert.All(_bench.Span(data, 512).ToArray(), b => Assert.Equal(0xAB, b));
    }

    [Fact]
    public void Missing_status_byte_needs_reset()
    {
        _bench.Start();
        ulong data = _bench.Alloc(512);
        _bench.Publish(_bench.WriteDirectChain(new GuestSegment(_bench.Header(RequestOut, 0), 16, false), new GuestSegment(data, 512, false)));
        _bench.Notify();
        AssertNeedsReset("status byte");
    }

    [Fact]
    public void Status_byte_outside_ram_needs_reset()
    {
        _bench.Start();
        _bench.Publish(_bench.WriteDirectChain(new GuestSegment(_bench.Header(RequestFlush, 0), 16, false), new GuestSegment(RamBase + RamSize, 1, true)));
        _bench.Notify();
        AssertNeedsReset("status byte");
    }

    [Fact]
    public void Readable_descriptor_after_a_writable_one_completes_with_ioerr()
    {
        _bench.Start();
        ulong header = _bench.Header(RequestIn, 0);
        ulong data = _bench.Alloc(512, 0xAB);
        ulong status = _bench.Alloc(1, 0xFF);
        AssertIoError(_bench.Submit(status, false,
            new GuestSegment(data, 512, true), new GuestSegment(header, 16, false), new GuestSegment(status, 1, true)));
        Assert.All(_bench.Span(data, 512).ToArray(), b => Assert.Equal(0xAB, b));
    }

    [Theory]
    [InlineData(RequestIn, 700u)]
    [InlineData(RequestOut, 700u)]
    [InlineData(RequestIn, 1u)]
    [InlineData(RequestOut, 511u)]
    public void Data_not_a_multiple_of_512_completes_with_ioerr(uint type, uint length)
    {
        _bench.Start();
        ulong data = _bench.Alloc((int)length, 0xAB);
        AssertIoError(_bench.Request(type, 0, data, length, dataWritable: type == RequestIn));
        Assert.All(_bench.Span(data, (int)length).ToArray(), b => Assert.Equal(0xAB, b));
    }

    [Theory]
    [InlineData(RequestIn, (ulong)DiskSectors - 1, 1024u)]
    [InlineData(RequestOut, (ulong)DiskSectors - 1, 1024u)]
    [InlineData(RequestIn, (ulong)DiskSectors, 512u)]
    [InlineData(RequestOut, (ulong)DiskSectors, 512u)]
    [InlineData(RequestIn, ulong.MaxValue, 512u)]          // sector * 512 overflows
    [InlineData(RequestOut, 0x0080_0000_0000_0000UL, 512u)] // sector * 512 = 2^64
    public void Requests_past_the_end_of_the_disk_complete_with_ioerr(uint type, ulong sector, uint length)
    {
        _bench.Start();
        ulong data = _bench.Alloc((int)length, 0xAB);
        AssertIoError(_bench.Request(type, sector, data, length, dataWritable: type == RequestIn));
        Assert.All(_bench.Span(data, (int)length).ToArray(), b => Assert.Equal(0xAB, b));
    }

    [Fact]
    public void Reading_the_last_sector_is_fine()
    {
        _bench.Start();
        ulong data = _bench.Alloc(512);
        Assert.Equal(StatusOk, _bench.Request(RequestIn, DiskSectors - 1, data, 512, dataWritable: true).Status);
    }

    [Theory]
    [InlineData((ushort)(QueueSize + 1))]
    [InlineData((ushort)0x8000)]
    [InlineData(ushort.MaxValue)]
    public void Available_index_jumping_by_more_than_the_queue_size_needs_reset(ushort index)
    {
        _bench.Start();
        _bench.SetAvailIndex(index);
        _bench.Notify();
        AssertNeedsReset("available index jumped");
    }

    [Fact]
    public void Queue_addresses_not_set_need_reset()
    {
        Assert.True(_bench.Negotiate());
        _bench.SetReg(QueueSel, 0);
        _bench.SetReg(QueueNum, QueueSize);
        _bench.SetReg(QueueReady, 1);
        Assert.Equal(0u, _bench.Reg(QueueReady));
        AssertNeedsReset("not set or outside guest RAM");
    }

    [Theory]
    [InlineData(RamBase - 0x1000, AvailRing, UsedRing)]
    [InlineData(DescriptorTable, RamBase + RamSize - 8, UsedRing)]
    [InlineData(DescriptorTable, AvailRing, RamBase + RamSize - 64)]
    [InlineData(DescriptorTable, AvailRing, 0xFFFF_FFFF_FFFF_FF00UL)]
    [InlineData(DescriptorTable + 8, AvailRing, UsedRing)] // misaligned descriptor table
    [InlineData(DescriptorTable, AvailRing, UsedRing + 2)] // misaligned used ring
    public void Queue_addresses_outside_ram_or_misaligned_need_reset(ulong desc, ulong avail, ulong used)
    {
        Assert.True(_bench.Negotiate());
        _bench.SetupQueue(QueueSize, desc, avail, used);
        Assert.Equal(0u, _bench.Reg(QueueReady));
        AssertNeedsReset("queue 0");
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(12u)]
    [InlineData(32u)]       // larger than QueueNumMax (16)
    [InlineData(0x10000u)]
    public void Queue_size_not_a_power_of_two_or_too_large_needs_reset(uint size)
    {
        Assert.True(_bench.Negotiate());
        _bench.SetupQueue(size);
        Assert.Equal(0u, _bench.Reg(QueueReady));
        AssertNeedsReset("size");
    }

    [Fact]
    public void A_smaller_power_of_two_queue_is_accepted()
    {
        Assert.True(_bench.Negotiate());
        _bench.SetupQueue(4);
        Assert.Equal(1u, _bench.Reg(QueueReady));
        Assert.False(_bench.NeedsReset);
    }

    [Fact]
    public void Garbage_register_accesses_are_ignored()
    {
        _bench.Start();
        for (ulong offset = 0; offset < 0x1000; offset++)
        {
            foreach (int size in new[] { 1, 2, 3, 4, 8, 16 })
            {
                if (offset is 0x070 or 0x050 or 0x044 or 0x038 or 0x030 || (offset >= 0x080 && offset < 0x0B0))
                {
                    continue; // meaningful registers are exercised elsewhere
                }

                _bench.Transport.Read(offset, size);
                _bench.Transport.Write(offset, size, ulong.MaxValue);
            }
        }

        _bench.SetReg(QueueNotify, 7); // a queue that does not exist
        _bench.SetReg(QueueSel, 99);
        _bench.SetReg(QueueReady, 1);
        _bench.SetReg(QueueNum, 8);
        Assert.Equal(0u, _bench.Reg(QueueNumMax));
        Assert.Equal(0u, _bench.Reg(QueueReady));
        _bench.SetReg(QueueSel, 0);
        Assert.Equal(1u, _bench.Reg(QueueReady));
    }

    [Fact]
    public void Random_rings_never_throw_or_escape_guest_ram()
    {
        var random = new Random(12345);
        var errors = 0;
        for (int round = 0; round < 300; round++)
        {
            _bench.Start();
            var area = _bench.Span(DescriptorTable, 0x4000 + (16 * 32));
            random.NextBytes(area);

            // Point most descriptor addresses into RAM so that deep paths get exercised too.
            for (int i = 0; i < QueueSize + 32; i++)
            {
                ulong table = i < QueueSize ? DescriptorTable : IndirectTable;
                int index = i < QueueSize ? i : i - QueueSize;
                var d = _bench.Span(table + ((ulong)index * 16), 16);
                if (random.Next(4) != 0)
                {
                    ulong address = RamBase + (ulong)random.Next(0x4000, (int)RamSize - 0x2000);
                    BinaryPrimitives.WriteUInt64LittleEndian(d, address);
                    BinaryPrimitives.WriteUInt32LittleEndian(d[8..], (uint)random.Next(0, 0x1800));
                    BinaryPrimitives.WriteUInt16LittleEndian(d[14..], (ushort)random.Next(0, QueueSize + 2));
                }
            }

            if (random.Next(2) == 0)
            {
                _bench.SetAvailIndex((ushort)random.Next(0, QueueSize + 1));
            }

            _bench.SetAvailFlags(0);
            _bench.Notify();
            _bench.Notify();
            if (_bench.NeedsReset)
            {
                errors++;
            }
        }

        Assert.True(errors > 0);
        Assert.Equal(64 * 512, _bench.ReadDiskFile().Length);
    }
}
