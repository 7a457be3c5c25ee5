namespace Backup.TestSupport;

/// <summary>
/// Finds a guest built into ~/.cache/backup-appliance/KIND/&lt;hash&gt;/ (or $XDG_CACHE_HOME's) with its Image,
/// initrd.img and manifest: the folder an environment variable names (appliance/test sets it), else the most
/// recently built complete one.
/// </summary>
internal static class CachedGuestFolder
{
    /// <summary>
    /// The folder, or null when <paramref name="variable"/> is unset and nothing is built (<paramref name="root"/> says
    /// where it looked).
    /// </summary>
    /// <exception cref="FileNotFoundException">The variable names a folder without the guest's files.</exception>
    public static string? Find(string variable, string kind, out string root)
    {
        string cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        root = Path.Combine(cache, "backup-appliance", kind);
        string? fromEnv = Environment.GetEnvironmentVariable(variable);
        if (!string.IsNullOrEmpty(fromEnv))
        {
            return IsComplete(fromEnv) ? fromEnv
                : throw new FileNotFoundException($"{variable} '{fromEnv}' holds no Image, initrd.img and manifest");
        }

        return Directory.Exists(root)
            ? Directory.EnumerateDirectories(root)
                .Where(IsComplete)
                .OrderByDescending(d => File.GetLastWriteTimeUtc(Path.Combine(d, "manifest")))
                .FirstOrDefault()
            : null;
    }

    private static bool IsComplete(string directory) =>
        File.Exists(Path.Combine(directory, "Image")) && File.Exists(Path.Combine(directory, "initrd.img")) && File.Exists(Path.Combine(directory, "manifest"));
}
