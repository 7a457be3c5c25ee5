using Backup.Disks.BlockDevices;
using Backup.Disks.Snapshots;

namespace Backup.Disks.Tests.Snapshots;

public sealed class DiskSnapshotTests : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Snapshot_shows_the_disk_at_the_cut_while_writes_continue()
    {
        _dir.CreateImage(1 << 20);
        using TrackedDisk disk = _dir.Open(granularity: 4096);
        byte[] atCut = TempFolder.ReadAll(disk);
        using DiskSnapshot snap = disk.CreateSnapshot();

        var rng = new Random(7);
        var shadow = (byte[])atCut.Clone();
        for (int i = 0; i < 300; i++)
        {
            int len = rng.Next(1, 20000);
            long off = rng.NextInt64(0, disk.Length - len);
            var data = new byte[len];
            rng.NextBytes(data);
            disk.Write(off, data);
            data.CopyTo(shadow, off);
        }

        Assert.Equal(atCut, TempFolder.ReadAll(snap));
        Assert.Equal(shadow, TempFolder.ReadAll(disk));

        // Unaligned reads straddling preserved and untouched blocks.
        for (int i = 0; i < 200; i++)
        {
            int len = rng.Next(1, 30000);
            long off = rng.NextInt64(0, snap.Length - len);
            var part = new byte[len];
            snap.Read(off, part);
            Assert.True(atCut.AsSpan((int)off, len).SequenceEqual(part), $"snapshot read [{off}, +{len}) differs");
        }

        Assert.True(snap.PreservedBlockCount > 0);
        Assert.Equal(snap.PreservedBlockCount * 4096, snap.SideStoreBytes);
    }

    [Fact]
    public void Creating_a_snapshot_copies_nothing_and_only_first_writes_to_a_block_copy_it()
    {
        _dir.CreateImage(1 << 20);
        using TrackedDisk disk = _dir.Open();
        using DiskSnapshot snap = disk.CreateSnapshot();
        Assert.Equal(0, snap.SideStoreBytes);
        Assert.Equal(0, new FileInfo(snap.SideStorePath).Length);

        disk.Write(10, new byte[100]);
        disk.Write(500, new byte[100]); // same 64 KiB block: already preserved
        Assert.Equal(1, snap.PreservedBlockCount);
        disk.Write(65536 - 1, new byte[2]); // spans blocks 0 and 1: only block 1 is new
        Assert.Equal(2, snap.PreservedBlockCount);
        Assert.Equal(2 * 65536, new FileInfo(snap.SideStorePath).Length);
    }

    [Fact]
    public void Concurrent_readers_never_see_torn_or_post_cut_blocks()
    {
        const long size = 4 << 20;
        _dir.CreateImage(size);
        using TrackedDisk disk = _dir.Open(granularity: 16384);
        var failures = new List<string>();

        for (int round = 0; round < 3; round++)
        {
            // Cut on the "VM thread" (this one), between two writes, and copy the disk at that instant.
            DiskSnapshot snap = disk.CreateSnapshot();
            byte[] expected = TempFolder.ReadAll(disk);
            int running = 2;
            var readers = Enumerable.Range(0, 2).Select(r => new Thread(() =>
            {
                var rng = new Random(round * 10 + r);
                for (int pass = 0; pass < 2; pass++)
                {
                    long off = 0;
                    while (off < size)
                    {
                        int len = (int)Math.Min(size - off, rng.Next(1, 100_000));
                        var got = new byte[len];
                        snap.Read(off, got);
                        if (!expected.AsSpan((int)off, len).SequenceEqual(got))
                        {
                            lock (failures)
                            {
                                failures.Add($"round {round} reader {r}: [{off}, +{len}) differs from the cut");
                            }
                        }

                        off += len;
                    }
                }

                Interlocked.Decrement(ref running);
            })).ToArray();
            foreach (Thread t in readers)
            {
                t.Start();
            }

            // Hammer the disk until the readers are done, always touching some block the readers may be reading.
            var wr = new Random(100 + round);
            long writes = 0;
            while (Volatile.Read(ref running) > 0 || writes < 200)
            {
                int len = wr.Next(1, 40000);
                long off = wr.NextInt64(0, size - len);
                var data = new byte[len];
                wr.NextBytes(data);
                disk.Write(off, data);
                writes++;
            }

            foreach (Thread t in readers)
            {
                t.Join();
            }
            Assert.Equal(expected, TempFolder.ReadAll(snap));
            Assert.True(snap.PreservedBlockCount > 0, "the writer should have overwritten some blocks");
            snap.Dispose();
        }

        Assert.Empty(failures);
    }

    [Fact]
    public void A_reader_racing_the_first_write_to_its_block_still_sees_the_cut()
    {
        // Lockstep: the reader announces a block and reads it; its reads of the live disk are delayed, so the guest's
        // first write to exactly that block (preserve, then write) lands between the reader's check and its read.
        const int block = 16384;
        const int blocks = 32;
        _dir.CreateImage(blocks * block);
        var slow = new SlowReadsElsewhereDisk(RawFileDisk.Open(_dir.ImagePath), TimeSpan.FromMilliseconds(2));
        using TrackedDisk disk = TrackedDisk.Open(slow, new TrackedDiskOptions
        {
            Granularity = block,
            SidecarPath = _dir.SidecarPath,
            InnerSupportsConcurrentAccess = true,
        });
        var failures = new List<string>();
        var rng = new Random(11);
        var fresh = new byte[block];

        for (int round = 0; round < 4; round++)
        {
            using DiskSnapshot snap = disk.CreateSnapshot();
            byte[] expected = TempFolder.ReadAll(disk);
            long target = -1, done = -1;
            var reader = new Thread(() =>
            {
                var content = new byte[block];
                for (long b = 0; b < blocks; b++)
                {
                    Volatile.Write(ref target, b);
                    snap.Read(b * block, content);
                    if (!expected.AsSpan((int)(b * block), block).SequenceEqual(content))
                    {
                        lock (failures)
                        {
                            failures.Add($"round {round}: block {b} shows a post-cut write");
                        }
                    }

                    SpinWait.SpinUntil(() => Volatile.Read(ref done) == b);
                }
            });
            reader.Start();
            for (long b = 0; b < blocks; b++)
            {
                SpinWait.SpinUntil(() => Volatile.Read(ref target) == b);
                rng.NextBytes(fresh);
                disk.Write(b * block, fresh);
                Volatile.Write(ref done, b);
            }

            reader.Join();
            Assert.Equal(blocks, snap.PreservedBlockCount);
            Assert.Equal(expected, TempFolder.ReadAll(snap));
        }

        Assert.Empty(failures);
    }

    [Fact]
    public void A_device_that_is_not_thread_safe_is_never_entered_by_two_threads()
    {
        _dir.CreateImage(512 * 1024);
        var device = new OneCallerAtATimeDisk(RawFileDisk.Open(_dir.ImagePath));
        using TrackedDisk disk = TrackedDisk.Open(device, new TrackedDiskOptions { Granularity = 4096, SidecarPath = _dir.SidecarPath });
        using DiskSnapshot snap = disk.CreateSnapshot();
        byte[] expected = TempFolder.ReadAll(disk);
        byte[] seen = new byte[expected.Length];
        var reader = new Thread(() =>
        {
            for (int at = 0; at < seen.Length; at += 4096)
            {
                snap.Read(at, seen.AsSpan(at, 4096));
            }
        });
        reader.Start();
        var rng = new Random(5);
        while (reader.IsAlive)
        {
            var data = new byte[rng.Next(1, 5000)];
            disk.Write(rng.NextInt64(0, disk.Length - data.Length), data);
        }

        reader.Join();
        Assert.Equal(expected, seen);
        Assert.Equal(0, device.Overlaps);
    }

    [Fact]
    public void Several_snapshots_each_see_their_own_instant()
    {
        _dir.CreateImage(256 * 1024);
        using TrackedDisk disk = _dir.Open(granularity: 4096);
        var cuts = new List<(DiskSnapshot Snap, byte[] Content)>();
        var rng = new Random(3);
        for (int i = 0; i < 4; i++)
        {
            cuts.Add((disk.CreateSnapshot(), TempFolder.ReadAll(disk)));
            for (int w = 0; w < 30; w++)
            {
                var data = new byte[rng.Next(1, 9000)];
                rng.NextBytes(data);
                disk.Write(rng.NextInt64(0, disk.Length - data.Length), data);
            }
        }

        Assert.Equal(4, disk.ActiveSnapshotCount);
        foreach ((DiskSnapshot snap, byte[] content) in cuts)
        {
            Assert.Equal(content, TempFolder.ReadAll(snap));
        }

        // Dropping a middle snapshot leaves the others intact.
        cuts[1].Snap.Dispose();
        disk.Write(0, new byte[disk.Length]);
        foreach ((DiskSnapshot snap, byte[] content) in cuts.Where((_, i) => i != 1))
        {
            Assert.Equal(content, TempFolder.ReadAll(snap));
            snap.Dispose();
        }

        Assert.Equal(0, disk.ActiveSnapshotCount);
    }

    [Fact]
    public void Disposing_a_snapshot_frees_its_side_store_and_stops_copying()
    {
        _dir.CreateImage(1 << 20);
        string store = Path.Combine(_dir.Path, "side");
        using TrackedDisk disk = _dir.Open(sideStore: store);
        Assert.Equal(store, disk.SideStoreDirectory);
        DiskSnapshot snap = disk.CreateSnapshot();
        disk.Write(0, new byte[disk.Length]);
        Assert.Equal(disk.Length, new FileInfo(snap.SideStorePath).Length);
        Assert.Single(_dir.SideStores(store));

        snap.Dispose();
        Assert.Empty(_dir.SideStores(store));
        Assert.Throws<ObjectDisposedException>(() => snap.Read(0, new byte[1]));
        disk.Write(0, new byte[4096]); // nothing to preserve any more
        Assert.Empty(_dir.SideStores(store));
    }

    [Fact]
    public void Snapshots_are_read_only_and_die_with_their_disk()
    {
        _dir.CreateImage(64 * 1024);
        TrackedDisk disk = _dir.Open();
        DiskSnapshot snap = disk.CreateSnapshot();
        Assert.True(snap.IsReadOnly);
        Assert.Throws<InvalidOperationException>(() => snap.Write(0, new byte[1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => snap.Read(snap.Length - 1, new byte[2]));

        disk.Dispose();
        Assert.Throws<ObjectDisposedException>(() => snap.Read(0, new byte[1]));
        Assert.Empty(_dir.SideStores());
        snap.Dispose(); // harmless afterwards
    }

    [Fact]
    public void Side_stores_left_by_a_crash_are_removed_at_open()
    {
        _dir.CreateImage(64 * 1024);
        string stale = _dir.SidecarPath + ".snap-3-0123.cbw";
        File.WriteAllBytes(stale, new byte[100]);
        string unrelated = Path.Combine(_dir.Path, "other.img.cbt.snap-1-x.cbw");
        File.WriteAllBytes(unrelated, new byte[1]);
        using TrackedDisk disk = _dir.Open();
        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(unrelated));
    }

    [Fact]
    public void Last_partial_block_is_preserved_at_its_real_length()
    {
        _dir.CreateImage(10 * 512); // 5 KiB disk, 4 KiB blocks: the second block is 1 KiB
        using TrackedDisk disk = _dir.Open(granularity: 4096);
        byte[] atCut = TempFolder.ReadAll(disk);
        using DiskSnapshot snap = disk.CreateSnapshot();
        disk.Write(disk.Length - 10, new byte[10]);
        Assert.Equal(1024, snap.SideStoreBytes);
        Assert.Equal(atCut, TempFolder.ReadAll(snap));
    }

    [Fact]
    public void Flush_and_read_only_pass_through()
    {
        _dir.CreateImage(64 * 1024);
        using (TrackedDisk disk = _dir.Open())
        {
            Assert.False(disk.IsReadOnly);
            disk.Write(0, "abc"u8);
            disk.Flush();
        }

        using var ro = TrackedDisk.Open(RawFileDisk.Open(_dir.ImagePath, readOnly: true));
        Assert.True(ro.IsReadOnly);
        Assert.Throws<InvalidOperationException>(() => ro.Write(0, new byte[1]));
        ro.Flush();
        var back = new byte[3];
        ro.Read(0, back);
        Assert.Equal("abc"u8.ToArray(), back);
    }
}
