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

    public static DebianStockGuest Locate() =>
        CachedGuestFolder.Find("BACKUP_DEBIAN_STOCK_DIR", "debian-stock", out string root) is { } folder
            ? new DebianStockGuest(folder)
            : throw new FileNotFoundException(
                $"the stock Debian guest is not built (nothing in {root}): run appliance/guest/debian-stock/build (appliance/test does it)");
}
