namespace Backup.TestSupport;

/// <summary>
/// Finds the stock Debian riscv64 guest built by appliance/guest/debian-stock/build: the folder given by
/// $BACKUP_DEBIAN_STOCK_DIR (appliance/test sets it), else the most recently built folder under
/// ~/.cache/backup-appliance/debian-stock/ (or $XDG_CACHE_HOME's). Its files are the stock kernel (Image), the
/// initramfs (initrd.img) and the manifest.
/// </summary>
public sealed record DebianStockGuest(string Directory)
{
    /// <summary>Printed by the initramfs' /init as soon as it runs (stock busybox is executing).</summary>
    public const string InitMarker = "debian-stock: init running";

    /// <summary>The last line /init prints before powering off.</summary>
    public const string DoneMarker = "debian-stock: done";

    /// <summary>What /init writes to /from-guest.txt on the data disk.</summary>
    public const string GuestFileContent = "written by the stock Debian guest\n";

    public string KernelPath => Path.Combine(Directory, "Image");

    public string InitrdPath => Path.Combine(Directory, "initrd.img");

    public string ManifestPath => Path.Combine(Directory, "manifest");

    public static DebianStockGuest Locate()
    {
        string? fromEnv = Environment.GetEnvironmentVariable("BACKUP_DEBIAN_STOCK_DIR");
        if (!string.IsNullOrEmpty(fromEnv))
        {
            var given = new DebianStockGuest(fromEnv);
            return given.IsComplete ? given
                : throw new FileNotFoundException($"BACKUP_DEBIAN_STOCK_DIR '{fromEnv}' holds no Image, initrd.img and manifest");
        }

        string cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        string root = Path.Combine(cache, "backup-appliance", "debian-stock");
        var newest = System.IO.Directory.Exists(root)
            ? System.IO.Directory.EnumerateDirectories(root)
                .Select(d => new DebianStockGuest(d))
                .Where(g => g.IsComplete)
                .OrderByDescending(g => File.GetLastWriteTimeUtc(g.ManifestPath))
                .FirstOrDefault()
            : null;
        return newest ?? throw new FileNotFoundException(
            $"the stock Debian guest is not built (nothing in {root}): run appliance/guest/debian-stock/build (appliance/test does it)");
    }

    private bool IsComplete => File.Exists(KernelPath) && File.Exists(InitrdPath) && File.Exists(ManifestPath);
}
