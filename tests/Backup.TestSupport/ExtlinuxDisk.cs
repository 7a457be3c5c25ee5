using System.Diagnostics;

namespace Backup.TestSupport;

/// <summary>
/// Builds a raw disk image U-Boot's distro boot accepts, without root: an MBR (sfdisk) with one bootable Linux
/// partition at 1 MiB, holding an ext4 file system made by <c>mke2fs -d</c> straight into the image at that
/// offset. The file system holds the given files (e.g. boot/Image, extlinux/extlinux.conf). docs/firmware-boot.md
/// shows the same two commands.
/// </summary>
public static class ExtlinuxDisk
{
    public const long PartitionOffset = 1L << 20;

    /// <summary>Writes <paramref name="path"/> (<paramref name="size"/> bytes) holding <paramref name="files"/> (path in the file system, content).</summary>
    public static void Create(string path, long size, IReadOnlyDictionary<string, byte[]> files)
    {
        string root = Path.Combine(Path.GetTempPath(), $"extlinux-root-{Guid.NewGuid():N}");
        try
        {
            foreach (var (name, content) in files)
            {
                string target = Path.Combine(root, name);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.WriteAllBytes(target, content);
            }

            Directory.CreateDirectory(root);
            using (var file = new FileStream(path, FileMode.Create, FileAccess.Write))
            {
                file.SetLength(size);
            }

            Run(Tool("sfdisk"), ["-q", path], $"start={PartitionOffset / 512}, type=83, bootable\n");
            long partitionKiB = (size - PartitionOffset) / 1024;
            Run(Tool("mke2fs"), ["-q", "-F", "-t", "ext4", "-d", root, "-E", $"offset={PartitionOffset}", path, $"{partitionKiB}k"], null);
        }
        finally
        {
            if (Directory.Exists(root))
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }

    /// <summary>The extlinux.conf of one label booting <c>/boot/Image</c> with <paramref name="append"/>.</summary>
    public static byte[] Config(string append, string? initrd = null) => System.Text.Encoding.ASCII.GetBytes(
        $"default guest\nlabel guest\n    kernel /boot/Image\n{(initrd is null ? string.Empty : $"    initrd {initrd}\n")}    append {append}\n");

    private static string Tool(string name)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':').Concat(["/usr/sbin", "/sbin"]))
        {
            string candidate = Path.Combine(dir, name);
            if (dir.Length > 0 && File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException($"{name} is not installed (Debian packages: fdisk for sfdisk, e2fsprogs for mke2fs; appliance/prereqs installs both)");
    }

    private static void Run(string tool, string[] args, string? input)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardInput = true, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{tool} did not start");
        if (input is not null)
        {
            process.StandardInput.Write(input);
        }

        process.StandardInput.Close();
        string stderr = process.StandardError.ReadToEnd();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{tool} {string.Join(' ', args)} failed ({process.ExitCode}): {stderr}");
        }
    }
}
