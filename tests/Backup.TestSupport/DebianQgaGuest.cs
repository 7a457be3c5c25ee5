namespace Backup.TestSupport;

/// <summary>
/// Finds the Debian QEMU guest agent guest built by appliance/guest/debian-qga/build: the folder given by
/// $BACKUP_DEBIAN_QGA_DIR (appliance/test sets it), else the most recently built folder under
/// ~/.cache/backup-appliance/debian-qga/ (or $XDG_CACHE_HOME's). Its files are the stock kernel (Image), the
/// initramfs with the real qemu-ga (initrd.img) and the manifest.
/// </summary>
public sealed record DebianQgaGuest(string Directory)
{
    /// <summary>Printed by /init once qemu-ga runs on the port.</summary>
    public const string AgentStartedMarker = "debian-qga: qemu-ga started";

    /// <summary>Printed by /init when qemu-ga has exited.</summary>
    public const string AgentExitedMarker = "debian-qga: qemu-ga exited";

    /// <summary>Printed by the fsfreeze hook.d script, followed by " freeze" or " thaw".</summary>
    public const string HookMarker = "debian-qga: fsfreeze-hook";

    public string KernelPath => Path.Combine(Directory, "Image");

    public string InitrdPath => Path.Combine(Directory, "initrd.img");

    public string ManifestPath => Path.Combine(Directory, "manifest");

    /// <summary>The guest, or null with <paramref name="why"/> when none is built and the variable is unset.</summary>
    /// <exception cref="FileNotFoundException">$BACKUP_DEBIAN_QGA_DIR names a folder without the guest's files.</exception>
    public static DebianQgaGuest? TryLocate(out string why)
    {
        string? folder = CachedGuestFolder.Find("BACKUP_DEBIAN_QGA_DIR", "debian-qga", out string root);
        why = folder is null
            ? $"BACKUP_DEBIAN_QGA_DIR is unset and nothing is built in {root}: run appliance/guest/debian-qga/build (appliance/test does it)"
            : string.Empty;
        return folder is null ? null : new DebianQgaGuest(folder);
    }
}
