using Backup.Disks.BlockDevices;
using Backup.Disks.ChangeTracking;
using Backup.Disks.Snapshots;

namespace Backup.Disks.Tests.Snapshots;

public sealed class ChangedBlockTests : IDisposable
{
    private readonly TempFolder _dir = new();

    public ChangedBlockTests()
    {
        _dir.CreateImage(1 << 20); // 16 blocks of 64 KiB
        _dir.EstablishTrustedBaseline();
    }

    public void Dispose() => _dir.Dispose();

    private static long[] Changed(ChangedBlockMap map) =>
        Enumerable.Range(0, (int)map.BlockCount).Where(b => map.IsChanged(b)).Select(b => (long)b).ToArray();

    [Fact]
    public void Writes_at_odd_offsets_mark_every_block_they_touch()
    {
        using TrackedDisk disk = _dir.Open();
        Assert.True(disk.TrackingState.Trusted, disk.TrackingState.Reason);
        disk.Write(1, new byte[1]);                          // block 0
        disk.Write(3 * 65536 - 1, new byte[2]);              // blocks 2 and 3
        disk.Write(5 * 65536 + 100, new byte[2 * 65536]);    // blocks 5, 6, 7
        disk.Write(disk.Length - 1, new byte[1]);            // block 15
        disk.Write(9 * 65536, ReadOnlySpan<byte>.Empty);     // nothing

        using DiskSnapshot snap = disk.CreateSnapshot();
        ChangedBlockMap map = snap.ChangedBlocks;
        Assert.False(map.AllBlocks);
        Assert.Null(map.Reason);
        Assert.Equal(65536, map.Granularity);
        Assert.Equal(16, map.BlockCount);
        Assert.Equal(new long[] { 0, 2, 3, 5, 6, 7, 15 }, Changed(map));
        Assert.Equal(7, map.ChangedBlockCount);
        Assert.Equal(
            new[] { new DiskExtent(0, 65536), new DiskExtent(2 * 65536, 2 * 65536), new DiskExtent(5 * 65536, 3 * 65536), new DiskExtent(15 * 65536, 65536) },
            map.ChangedExtents().ToArray());
    }

    [Fact]
    public void The_last_block_of_an_unaligned_disk_is_clipped()
    {
        using var dir = new TempFolder();
        dir.CreateImage(3 * 65536 + 1024);
        dir.EstablishTrustedBaseline();
        using TrackedDisk disk = dir.Open();
        disk.Write(disk.Length - 1, new byte[1]);
        using DiskSnapshot snap = disk.CreateSnapshot();
        Assert.Equal(4, snap.ChangedBlocks.BlockCount);
        Assert.Equal(new DiskExtent(3 * 65536, 1024), snap.ChangedBlocks.BlockExtent(3));
        Assert.Equal(new[] { new DiskExtent(3 * 65536, 1024) }, snap.ChangedBlocks.ChangedExtents().ToArray());
    }

    [Fact]
    public void Granularity_is_configurable()
    {
        _dir.EstablishTrustedBaseline(granularity: 4096);
        using TrackedDisk disk = _dir.Open(granularity: 4096);
        Assert.Equal(4096, disk.Granularity);
        disk.Write(4095, new byte[2]);
        disk.Write(100_000, new byte[10]);
        using DiskSnapshot snap = disk.CreateSnapshot();
        Assert.Equal(256, snap.ChangedBlocks.BlockCount);
        Assert.Equal(new long[] { 0, 1, 100_000 / 4096 }, Changed(snap.ChangedBlocks));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(256)]
    [InlineData(3000)]
    [InlineData(128 * 1024 * 1024)]
    public void Bad_granularities_are_refused(int granularity)
    {
        var e = Assert.Throws<ArgumentException>(() => _dir.Open(granularity));
        Assert.Contains("power of two", e.Message);
    }

    [Fact]
    public void The_live_bitmap_restarts_at_each_cut_and_completion_clears_what_was_backed_up()
    {
        using TrackedDisk disk = _dir.Open();
        disk.Write(0, new byte[10]);
        DiskSnapshot first = disk.CreateSnapshot();
        Assert.Equal(new long[] { 0 }, Changed(first.ChangedBlocks));
        disk.Write(65536, new byte[10]);
        Assert.Equal(2, disk.PendingChangedBlockCount);

        first.CompleteBackup();
        Assert.True(first.BackupCompleted);
        Assert.Equal(first.Generation, disk.LastCompletedGeneration);
        Assert.Equal(1, disk.PendingChangedBlockCount);
        first.Dispose();

        using DiskSnapshot second = disk.CreateSnapshot();
        Assert.Equal(new long[] { 1 }, Changed(second.ChangedBlocks));
        Assert.Equal(first.Generation, second.ChangedBlocks.SinceGeneration);
        Assert.Equal(second.Generation, second.ChangedBlocks.Generation);
        Assert.Equal(disk.TrackingId, second.ChangedBlocks.TrackingId);
    }

    [Fact]
    public void A_failed_backup_loses_nothing()
    {
        using TrackedDisk disk = _dir.Open();
        disk.Write(0, new byte[10]);
        DiskSnapshot failed = disk.CreateSnapshot();
        disk.Write(2 * 65536, new byte[10]);
        failed.Dispose(); // no CompleteBackup

        disk.Write(4 * 65536, new byte[10]);
        using DiskSnapshot next = disk.CreateSnapshot();
        Assert.Equal(new long[] { 0, 2, 4 }, Changed(next.ChangedBlocks));
        Assert.Equal(failed.ChangedBlocks.SinceGeneration, next.ChangedBlocks.SinceGeneration);
    }

    [Fact]
    public void Overlapping_backups_report_changes_since_the_last_completed_one()
    {
        using TrackedDisk disk = _dir.Open();
        disk.Write(0, new byte[1]);
        DiskSnapshot a = disk.CreateSnapshot();
        disk.Write(65536, new byte[1]);
        DiskSnapshot b = disk.CreateSnapshot(); // a has not completed: b must include a's changes too
        Assert.Equal(new long[] { 0, 1 }, Changed(b.ChangedBlocks));

        disk.Write(2 * 65536, new byte[1]);
        DiskSnapshot c = disk.CreateSnapshot();
        b.Dispose(); // b failed: its blocks move into c's segment, so completing c covers them
        c.CompleteBackup();
        Assert.Equal(0, disk.PendingChangedBlockCount);

        var late = Assert.Throws<InvalidOperationException>(() => a.CompleteBackup());
        Assert.Contains("older than the last completed backup", late.Message);
        a.Dispose();
        c.Dispose();

        using DiskSnapshot d = disk.CreateSnapshot();
        Assert.Equal(0, d.ChangedBlocks.ChangedBlockCount);
        Assert.Empty(d.ChangedBlocks.ChangedExtents());
    }

    [Fact]
    public void Complete_backup_is_idempotent_and_refused_after_dispose()
    {
        using TrackedDisk disk = _dir.Open();
        DiskSnapshot s = disk.CreateSnapshot();
        s.CompleteBackup();
        s.CompleteBackup();
        s.Dispose();
        Assert.Throws<ObjectDisposedException>(() => s.CompleteBackup());
    }

    [Fact]
    public void A_disk_that_is_not_a_file_needs_an_explicit_sidecar_path()
    {
        using var raw = RawFileDisk.Open(_dir.ImagePath);
        var e = Assert.Throws<ArgumentException>(() => TrackedDisk.Open(new NotAFileDisk(raw)));
        Assert.Contains("SidecarPath", e.Message);
    }

    /// <summary>A device that is not a <see cref="RawFileDisk"/> (so the tracker cannot derive a path from it).</summary>
    private sealed class NotAFileDisk(IBlockDevice inner) : IBlockDevice
    {
        public long Length => inner.Length;
        public bool IsReadOnly => inner.IsReadOnly;
        public void Read(long offset, Span<byte> buffer) => inner.Read(offset, buffer);
        public void Write(long offset, ReadOnlySpan<byte> buffer) => inner.Write(offset, buffer);
        public void Flush() => inner.Flush();
        public void Dispose() { }
    }
}
