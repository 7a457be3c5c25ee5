namespace Backup.TestSupport;

/// <summary>
/// The realistic guest built by appliance/guest/build (docs/guest.md): the shared kernel Image, an ext4 root disk,
/// an ext4 data disk and the kernel command line that boots them. Tests copy the disk images before use.
/// </summary>
public sealed class RealisticGuest
{
    private RealisticGuest(string directory)
    {
        RootDisk = Path.Combine(directory, "rootfs.ext4");
        DataDisk = Path.Combine(directory, "data.ext4");
        CommandLine = File.ReadAllText(Path.Combine(directory, "cmdline")).Trim();
    }

    public static string KernelPath => GuestImage.KernelPath;

    public string RootDisk { get; }

    public string DataDisk { get; }

    public string CommandLine { get; }

    public static RealisticGuest Locate()
    {
        string kernel = GuestImage.KernelPath;
        string directory = Path.Combine(Path.GetDirectoryName(kernel)!, "realistic");
        foreach (string name in new[] { "rootfs.ext4", "data.ext4", "cmdline" })
        {
            if (!File.Exists(Path.Combine(directory, name)))
            {
                throw new FileNotFoundException($"the realistic guest is not built ({Path.Combine(directory, name)} is missing): run appliance/guest/build");
            }
        }

        return new RealisticGuest(directory);
    }

    /// <summary>Copies both disk images into <paramref name="directory"/>; returns (root, data) paths.</summary>
    public (string Root, string Data) CopyDisks(string directory)
    {
        string root = Path.Combine(directory, "rootfs.ext4"), data = Path.Combine(directory, "data.ext4");
        File.Copy(RootDisk, root, overwrite: true);
        File.Copy(DataDisk, data, overwrite: true);
        return (root, data);
    }
}
