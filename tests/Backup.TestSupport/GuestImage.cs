namespace Backup.TestSupport;

/// <summary>Finds the Linux guest built by appliance/guest/build (or $BACKUP_GUEST_IMAGE).</summary>
public static class GuestImage
{
    public static string KernelPath
    {
        get
        {
            string? fromEnv = Environment.GetEnvironmentVariable("BACKUP_GUEST_IMAGE");
            if (!string.IsNullOrEmpty(fromEnv) && File.Exists(fromEnv))
            {
                return fromEnv;
            }

            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "appliance", "guest", "out", "Image");
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }

            throw new FileNotFoundException("the Linux guest is not built: run appliance/guest/build (appliance/test does it)");
        }
    }
}
