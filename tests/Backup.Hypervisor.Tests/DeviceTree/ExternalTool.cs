using System.Diagnostics;

namespace Backup.Hypervisor.Tests.DeviceTree;

/// <summary>Finds and runs host tools (dtc, the RISC-V binutils) for tests that check against real implementations.</summary>
internal static class ExternalTool
{
    /// <summary>Full path of <paramref name="name"/> on PATH, or null.</summary>
    public static string? Find(string name)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        foreach (var dir in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>Runs a tool to completion (60 s limit) and returns its exit code and output.</summary>
    public static (int ExitCode, string StdOut, string StdErr) Run(string tool, params string[] arguments)
    {
        var path = Find(tool) ?? throw new InvalidOperationException($"{tool} is not installed (not found on PATH)");
        var start = new ProcessStartInfo(path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {tool}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{tool} {string.Join(' ', arguments)} did not finish within 60 s");
        }

        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Runs a tool and fails the test (with its stderr) unless it exits with 0.</summary>
    public static string RunChecked(string tool, params string[] arguments)
    {
        var (exit, stdout, stderr) = Run(tool, arguments);
        if (exit != 0)
        {
            throw new InvalidOperationException($"{tool} {string.Join(' ', arguments)} exited with {exit}:\n{stderr}");
        }

        return stdout;
    }
}
