using System.Buffers.Binary;
using Backup.Disks.ChangeTracking;
using Backup.Disks.Snapshots;

namespace Backup.Disks.Tests.Snapshots;

public sealed class ChangeTrackingPersistenceTests : IDisposable
{
    private readonly TempFolder _dir = new();

    public ChangeTrackingPersistenceTests() => _dir.CreateImage(1 << 20);

    public void Dispose() => _dir.Dispose();

    private byte[] SidecarBytes()
    {
        using var f = new FileStream(_dir.SidecarPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var data = new byte[f.Length];
        f.ReadExactly(data);
        return data;
    }

    private static long[] Changed(ChangedBlockMap map) =>
        Enumerable.Range(0, (int)map.BlockCount).Where(b => map.IsChanged(b)).Select(b => (long)b).ToArray();

    /// <summary>Opens, checks the state, cuts a snapshot and returns its map (the "next backup").</summary>
    private ChangedBlockMap NextBackup(DistrustCause expected, string reasonFragment, bool complete = false, int granularity = 65536)
    {
        using TrackedDisk disk = _dir.Open(granularity);
        Assert.Equal(expected, disk.TrackingState.Cause);
        Assert.Equal(expected == DistrustCause.None, disk.TrackingState.Trusted);
        Assert.Contains(reasonFragment, disk.TrackingState.Reason);
        using DiskSnapshot snap = disk.CreateSnapshot();
        if (expected != DistrustCause.None)
        {
            Assert.True(snap.ChangedBlocks.AllBlocks);
            Assert.Equal(disk.TrackingState.Reason, snap.ChangedBlocks.Reason);
            Assert.Equal(snap.ChangedBlocks.BlockCount, snap.ChangedBlocks.ChangedBlockCount);
            Assert.Equal(new[] { new DiskExtent(0, disk.Length) }, snap.ChangedBlocks.ChangedExtents().ToArray());
        }

        if (complete)
        {
            snap.CompleteBackup();
            Assert.True(disk.TrackingState.Trusted);
        }

        return snap.ChangedBlocks;
    }

    [Fact]
    public void First_use_has_no_sidecar_so_the_first_backup_reads_everything()
    {
        NextBackup(DistrustCause.SidecarMissing, "no change-tracking sidecar");
    }

    [Fact]
    public void Bitmap_survives_a_clean_close_and_reopen()
    {
        _dir.EstablishTrustedBaseline();
        Guid id;
        using (TrackedDisk disk = _dir.Open())
        {
            id = disk.TrackingId;
            disk.Write(3 * 65536 + 5, new byte[10]);
            disk.Write(9 * 65536, new byte[65537]);
        }

        ChangedBlockMap map = NextBackup(DistrustCause.None, "tracked");
        Assert.Equal(new long[] { 3, 9, 10 }, Changed(map));
        Assert.Equal(id, map.TrackingId);
        Assert.Equal(1, map.SinceGeneration);
        Assert.Equal(2, map.Generation);
    }

    [Fact]
    public void A_failed_backup_before_a_restart_is_still_pending_after_it()
    {
        _dir.EstablishTrustedBaseline();
        using (TrackedDisk disk = _dir.Open())
        {
            disk.Write(0, new byte[1]);
            _ = disk.CreateSnapshot(); // backup still running when the VM stops
            disk.Write(65536, new byte[1]);
        }

        Assert.Equal(new long[] { 0, 1 }, Changed(NextBackup(DistrustCause.None, "tracked", complete: true)));
        Assert.Empty(Changed(NextBackup(DistrustCause.None, "tracked")));
    }

    [Fact]
    public void The_sidecar_is_in_use_from_open_until_a_clean_close()
    {
        using (TrackedDisk disk = _dir.Open())
        {
            byte[] open = SidecarBytes(); // before any guest write
            Assert.Equal("BDCBTMAP"u8.ToArray(), open[..8]);
            Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(open.AsSpan(8)));
            Assert.Equal(128u, BinaryPrimitives.ReadUInt32LittleEndian(open.AsSpan(12)));
            Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(open.AsSpan(16)));
            Assert.Equal(65536u, BinaryPrimitives.ReadUInt32LittleEndian(open.AsSpan(20)));
            Assert.Equal(1L << 20, BinaryPrimitives.ReadInt64LittleEndian(open.AsSpan(24)));
            Assert.Equal(disk.TrackingId, new Guid(open.AsSpan(32, 16), bigEndian: true));
            disk.Write(0, new byte[1]);
        }

        byte[] closed = SidecarBytes();
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(closed.AsSpan(16)));
        var image = new FileInfo(_dir.ImagePath);
        Assert.Equal(image.Length, BinaryPrimitives.ReadInt64LittleEndian(closed.AsSpan(64)));
        Assert.Equal(image.LastWriteTimeUtc.Ticks, BinaryPrimitives.ReadInt64LittleEndian(closed.AsSpan(72)));
        uint reasonLength = BinaryPrimitives.ReadUInt32LittleEndian(closed.AsSpan(88));
        Assert.Equal(2, BinaryPrimitives.ReadInt64LittleEndian(closed.AsSpan(96))); // 16 blocks -> 2 bytes
        Assert.Equal(128 + (int)reasonLength + 2 + 32, closed.Length);
    }

    [Fact]
    public void Unclean_stop_makes_the_next_backup_read_everything_until_one_completes()
    {
        _dir.EstablishTrustedBaseline();
        Guid before;
        byte[] crashed;
        using (TrackedDisk disk = _dir.Open())
        {
            before = disk.TrackingId;
            disk.Write(0, new byte[100]);
            crashed = SidecarBytes(); // what the disk holds if the appliance dies now
        }

        File.WriteAllBytes(_dir.SidecarPath, crashed);
        Guid after;
        using (TrackedDisk disk = _dir.Open())
        {
            Assert.False(disk.TrackingState.Trusted);
            Assert.Equal(DistrustCause.UncleanStop, disk.TrackingState.Cause);
            Assert.Contains("still marked in use", disk.TrackingState.Reason);
            after = disk.TrackingId;
        }

        Assert.NotEqual(before, after); // the history broke: old (id, generation) pairs no longer match

        // Distrust survives a clean close without a backup, then a completed full backup restores trust.
        NextBackup(DistrustCause.UncleanStop, "still marked in use", complete: true);
        using (TrackedDisk disk = _dir.Open())
        {
            Assert.True(disk.TrackingState.Trusted);
            disk.Write(7 * 65536, new byte[1]);
        }

        Assert.Equal(new long[] { 7 }, Changed(NextBackup(DistrustCause.None, "tracked")));
    }

    [Fact]
    public void A_tracker_that_is_never_closed_leaves_the_next_open_untrusted()
    {
        _dir.EstablishTrustedBaseline();
        AbandonWithWrites(); // the process "dies": no Dispose, no clean-close code runs

        ChangedBlockMap map = NextBackup(DistrustCause.UncleanStop, "stopped without closing the disk cleanly", complete: true);
        Assert.True(map.AllBlocks);
        NextBackup(DistrustCause.None, "tracked");
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private void AbandonWithWrites()
    {
#pragma warning disable CA2000 // deliberately never disposed: this is the crash
        TrackedDisk disk = _dir.Open();
#pragma warning restore CA2000
        disk.Write(5, new byte[3]);
        disk.Flush();
    }

    [Fact]
    public void Completing_a_backup_persists_its_generation_while_the_disk_stays_in_use()
    {
        _dir.EstablishTrustedBaseline();
        using TrackedDisk disk = _dir.Open();
        using DiskSnapshot snap = disk.CreateSnapshot();
        snap.CompleteBackup();
        byte[] file = SidecarBytes();
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(16)));          // still in use
        Assert.Equal(snap.Generation, BinaryPrimitives.ReadInt64LittleEndian(file.AsSpan(48)));
        Assert.Equal(snap.Generation, BinaryPrimitives.ReadInt64LittleEndian(file.AsSpan(56)));
    }

    [Fact]
    public void A_corrupt_sidecar_is_distrusted()
    {
        _dir.EstablishTrustedBaseline();
        byte[] good = SidecarBytes();

        byte[] flipped = (byte[])good.Clone();
        flipped[^40] ^= 0x01; // inside the bitmap
        File.WriteAllBytes(_dir.SidecarPath, flipped);
        NextBackup(DistrustCause.SidecarCorrupt, "checksum does not match");

        File.WriteAllBytes(_dir.SidecarPath, good[..100]);
        NextBackup(DistrustCause.SidecarCorrupt, "truncated");

        File.WriteAllBytes(_dir.SidecarPath, "not a sidecar at all"u8.ToArray());
        NextBackup(DistrustCause.SidecarCorrupt, "bad magic");

        File.WriteAllBytes(_dir.SidecarPath, []);
        NextBackup(DistrustCause.SidecarCorrupt, "bad magic", complete: true);
        NextBackup(DistrustCause.None, "tracked");
    }

    [Fact]
    public void An_unknown_sidecar_version_is_never_misread()
    {
        _dir.EstablishTrustedBaseline();
        byte[] future = SidecarBytes();
        BinaryPrimitives.WriteUInt32LittleEndian(future.AsSpan(8), 2);
        File.WriteAllBytes(_dir.SidecarPath, future);
        NextBackup(DistrustCause.UnsupportedVersion, "format version 2");
    }

    [Fact]
    public void A_changed_granularity_is_distrusted()
    {
        _dir.EstablishTrustedBaseline();
        NextBackup(DistrustCause.GranularityChanged, "65536-byte blocks but 4096-byte blocks", granularity: 4096);
    }

    [Fact]
    public void A_resized_disk_is_distrusted()
    {
        _dir.EstablishTrustedBaseline();
        using (var f = new FileStream(_dir.ImagePath, FileMode.Open))
        {
            f.SetLength(f.Length + 65536);
        }

        NextBackup(DistrustCause.DiskSizeChanged, $"{(1 << 20) + 65536} bytes");
    }

    [Fact]
    public void An_image_written_behind_the_trackers_back_is_distrusted()
    {
        _dir.EstablishTrustedBaseline();
        DateTime recorded = File.GetLastWriteTimeUtc(_dir.ImagePath);
        using (var f = new FileStream(_dir.ImagePath, FileMode.Open))
        {
            f.Position = 12345;
            f.WriteByte(0x42);
        }

        File.SetLastWriteTimeUtc(_dir.ImagePath, recorded.AddSeconds(2)); // filesystem clocks can be coarser than a fast test
        NextBackup(DistrustCause.ImageModified, "changed after the disk was last closed cleanly");
    }

    [Fact]
    public void Trust_restored_by_a_completed_backup_survives_a_restart()
    {
        NextBackup(DistrustCause.SidecarMissing, "no change-tracking sidecar", complete: true);
        Assert.Empty(Changed(NextBackup(DistrustCause.None, "tracked")));
    }
}
