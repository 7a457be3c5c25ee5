using Backup.Disks.BlockDevices;

namespace Backup.Disks.Tests.BlockDevices;

public sealed class RawFileDiskTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"raw-{Guid.NewGuid():N}.img");

    public void Dispose() => File.Delete(_path);

    [Fact]
    public void Writes_land_at_the_same_byte_offsets_in_the_file()
    {
        using (var disk = RawFileDisk.Create(_path, 1 << 20))
        {
            disk.Write(4096 + 7, "hello"u8);
            disk.Flush();
            var back = new byte[5];
            disk.Read(4096 + 7, back);
            Assert.Equal("hello"u8.ToArray(), back);
        }

        byte[] file = File.ReadAllBytes(_path);
        Assert.Equal(1 << 20, file.Length);
        Assert.Equal("hello"u8.ToArray(), file[(4096 + 7)..(4096 + 12)]);
        Assert.All(file[..4096], b => Assert.Equal(0, b));
    }

    [Fact]
    public void Read_only_disks_refuse_writes()
    {
        RawFileDisk.Create(_path, 4096).Dispose();
        using var disk = RawFileDisk.Open(_path, readOnly: true);
        Assert.True(disk.IsReadOnly);
        var e = Assert.Throws<InvalidOperationException>(() => disk.Write(0, new byte[512]));
        Assert.Contains(_path, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Requests_outside_the_disk_are_rejected_with_the_range()
    {
        using var disk = RawFileDisk.Create(_path, 4096);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => disk.Read(4000, new byte[512]));
        Assert.Contains("4000", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => disk.Write(-1, new byte[1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => disk.Read(long.MaxValue, new byte[2]));
    }

    [Fact]
    public void Missing_or_badly_sized_images_give_a_clear_error()
    {
        var missing = Assert.Throws<DiskImageException>(() => RawFileDisk.Open(_path));
        Assert.Contains("does not exist", missing.Message, StringComparison.Ordinal);

        File.WriteAllBytes(_path, new byte[1000]);
        var odd = Assert.Throws<DiskImageException>(() => RawFileDisk.Open(_path));
        Assert.Contains("not a multiple of 512", odd.Message, StringComparison.Ordinal);
        Assert.Equal(_path, odd.ImagePath);
    }
}
