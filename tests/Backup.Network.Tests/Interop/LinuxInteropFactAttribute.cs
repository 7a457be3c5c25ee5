namespace Backup.Network.Tests.Interop;

/// <summary>
/// A test against the host's Linux kernel in a private network namespace: it needs CAP_SYS_ADMIN and /dev/net/tun,
/// so it runs only with BACKUP_LINUX_INTEROP=1 (and is reported as skipped otherwise, never as passed).
/// </summary>
internal sealed class LinuxInteropFactAttribute : FactAttribute
{
    public LinuxInteropFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("BACKUP_LINUX_INTEROP") != "1")
        {
            Skip = "set BACKUP_LINUX_INTEROP=1 (root or CAP_SYS_ADMIN, /dev/net/tun, python3, busybox, slirp4netns) to run against the host's Linux kernel";
        }
    }
}
