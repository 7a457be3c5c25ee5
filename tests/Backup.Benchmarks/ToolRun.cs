using System.Diagnostics;
using System.Globalization;

namespace Backup.Benchmarks;

/// <summary>Runs the tools the benchmarks compare (ours, restic, borg) as processes and times them.</summary>
internal static class ToolRun
{
    /// <summary>
    /// Runs <paramref name="exe"/> to completion and returns its wall time in seconds; logs the time and the tool's
    /// last stderr line to stderr. A non-zero exit throws with the tool's output.
    /// </summary>
    public static double Exec(string exe, IReadOnlyList<string> args, string directory, Dictionary<string, string> environment)
    {
        var info = new ProcessStartInfo(exe) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }

        var stopwatch = Stopwatch.StartNew();
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{exe} did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        var seconds = stopwatch.Elapsed.TotalSeconds;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{exe} {string.Join(' ', args)} exited {process.ExitCode}: {stdout.Result}\n{stderr.Result}");
        }

        var said = stderr.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault(line => !line.Contains('\r', StringComparison.Ordinal));
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {seconds,7:F1} s  {Path.GetFileName(exe)} {string.Join(' ', args.Take(4))}{(said is null ? string.Empty : "  | " + said)}"));
        return seconds;
    }

    /// <summary>Bytes of every file below <paramref name="path"/> (a repository's size on disk).</summary>
    public static long DirectoryBytes(string path) =>
        Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Sum(file => new FileInfo(file).Length);
}
