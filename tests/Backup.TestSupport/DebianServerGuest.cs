namespace Backup.TestSupport;

/// <summary>
/// The Debian server guest built by appliance/guest/debian-server/build (docs/guest.md, "Debian server guest"): the
/// folder given by $BACKUP_DEBIAN_SERVER_DIR (appliance/test sets it). Its files are the boot disk (disk.img: MBR,
/// ext4 partition 1 with Debian trixie, systemd, PostgreSQL, openssh-server, qemu-guest-agent), the guest's own kernel
/// (Image) and initramfs (initrd.img) copied out of its /boot, the direct-boot command line (cmdline) and the manifest.
/// </summary>
public sealed record DebianServerGuest(string Directory)
{
    /// <summary>The environment variable naming the folder.</summary>
    public const string EnvironmentVariable = "BACKUP_DEBIAN_SERVER_DIR";

    /// <summary>Printed on the console once the workload has committed its first row of this boot.</summary>
    public const string PostgresReadyMarker = "backup-guest: postgres-ready";

    public string DiskPath => Path.Combine(Directory, "disk.img");

    public string KernelPath => Path.Combine(Directory, "Image");

    public string InitrdPath => Path.Combine(Directory, "initrd.img");

    public string ManifestPath => Path.Combine(Directory, "manifest");

    /// <summary>The kernel command line for a direct boot (the same as extlinux.conf's append line).</summary>
    public string CommandLine => File.ReadAllText(Path.Combine(Directory, "cmdline")).Trim();

    /// <summary>Why tests of this guest are skipped, or null when it is built.</summary>
    public static string? SkipReason()
    {
        string? dir = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (string.IsNullOrEmpty(dir))
        {
            return $"{EnvironmentVariable} is not set: build the guest with appliance/guest/debian-server/build (appliance/test does) and export the folder it prints last";
        }

        return new DebianServerGuest(dir).IsComplete ? null
            : $"{EnvironmentVariable} '{dir}' holds no disk.img, Image, initrd.img, cmdline and manifest";
    }

    public static DebianServerGuest Locate() =>
        SkipReason() is { } reason ? throw new InvalidOperationException(reason)
            : new DebianServerGuest(Environment.GetEnvironmentVariable(EnvironmentVariable)!);

    private bool IsComplete => File.Exists(DiskPath) && File.Exists(KernelPath) && File.Exists(InitrdPath)
        && File.Exists(ManifestPath) && File.Exists(Path.Combine(Directory, "cmdline"));
}
