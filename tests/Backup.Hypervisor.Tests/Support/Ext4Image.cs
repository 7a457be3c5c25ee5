using System.Diagnostics;

namespace Backup.Hypervisor.Tests.Support;

/// <summary>ext4 disk images made and read on the host with e2fsprogs (mke2fs -d, debugfs): no root, no mount.</summary>
internal static class Ext4Image
{
    /// <summary>Creates an ext4 image of <paramref name="megabytes"/> MiB at <paramref name="path"/> holding <paramref name="files"/> in its root.</summary>
    public static void Create(string path, int megabytes, IReadOnlyDictionary<string, string> files)
    {
        string content = Path.Combine(Path.GetTempPath(), $"ext4-root-{Guid.NewGuid():N}");
        Directory.CreateDirectory(content);
        try
        {
            foreach (var (name, text) in files)
            {
                File.WriteAllText(Path.Combine(content, name), text);
            }

            Run("mke2fs", ["-q", "-F", "-t", "ext4", "-d", content, path, $"{megabytes}M"]);
        }
        finally
        {
            Directory.Delete(content, recursive: true);
        }
    }

    /// <summary>
    /// The contents of <paramref name="name"/> (an absolute path in the file system, which starts
    /// <paramref name="offset"/> bytes into the image), or null when it does not exist.
    /// </summary>
    public static string? ReadFile(string image, string name, long offset = 0)
    {
        string device = offset == 0 ? image : $"{image}?offset={offset}"; // e2fsprogs' unix I/O option: a partition
        var (code, output, error) = Run("debugfs", ["-R", $"cat {name}", device], check: false);
        return code != 0 || error.Contains("File not found", StringComparison.Ordinal) ? null : output;
    }

    private static (int Code, string Output, string Error) Run(string tool, IReadOnlyList<string> arguments, bool check = true)
    {
        var info = new ProcessStartInfo(File.Exists($"/usr/sbin/{tool}") ? $"/usr/sbin/{tool}" : tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in arguments)
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{tool} did not start");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        if (check && process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{tool} {string.Join(' ', arguments)} exited {process.ExitCode}: {error.Result}");
        }

        return (process.ExitCode, output.Result, error.Result);
    }
}
