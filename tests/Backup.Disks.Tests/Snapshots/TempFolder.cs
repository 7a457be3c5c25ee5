using Backup.Disks.BlockDevices;
using Backup.Disks.Snapshots;

namespace Backup.Disks.Tests.Snapshots;

/// <summary>A temporary folder with a raw disk image in it, removed at the end of the test.</summary>
public sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"cbt-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path);
        ImagePath = System.IO.Path.Combine(Path, "disk.img");
    }

    public string Path { get; }

    public string ImagePath { get; }

    public string SidecarPath => ImagePath + ".cbt";

    /// <summary>Creates the image with deterministic pseudo-random content.</summary>
    public void CreateImage(long length, int seed = 1)
    {
        using var disk = RawFileDisk.Create(ImagePath, length);
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        disk.Write(0, data);
    }

    public TrackedDisk Open(int granularity = TrackedDiskOptions.DefaultGranularity, string? sideStore = null) =>
        TrackedDisk.Open(RawFileDisk.Open(ImagePath), new TrackedDiskOptions { Granularity = granularity, SideStoreDirectory = sideStore });

    public string[] SideStores(string? folder = null) => Directory.GetFiles(folder ?? Path, "*.cbw");

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    public static byte[] ReadAll(IBlockDevice disk)
    {
        var data = new byte[disk.Length];
        disk.Read(0, data);
        return data;
    }

    /// <summary>Opens a tracker, completes one backup (so tracking is trusted) and closes it cleanly.</summary>
    public void EstablishTrustedBaseline(int granularity = TrackedDiskOptions.DefaultGranularity)
    {
        using TrackedDisk disk = Open(granularity);
        using DiskSnapshot s = disk.CreateSnapshot();
        s.CompleteBackup();
    }
}
