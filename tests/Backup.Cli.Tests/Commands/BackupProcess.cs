using System.Diagnostics;

namespace Backup.Cli.Tests.Commands;

/// <summary>Runs the real `backup` command (backup.dll next to the tests) as a separate process.</summary>
internal static class BackupProcess
{
    public static (int ExitCode, string StdOut, string StdErr) Run(TimeSpan timeout, params string[] args) =>
        Run(timeout, new Dictionary<string, string?>(), args);

    /// <summary>Runs with extra (or, with a null value, removed) environment variables.</summary>
    public static (int ExitCode, string StdOut, string StdErr) Run(TimeSpan timeout, IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        using var process = Process.Start(StartInfo(environment, args))!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"backup {string.Join(' ', args)} did not finish in {timeout}");
        }

        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>How to start `backup` with <paramref name="args"/>, every stream redirected.</summary>
    public static ProcessStartInfo StartInfo(IReadOnlyDictionary<string, string?> environment, IEnumerable<string> args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "backup.dll");
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll);
        info.Environment.Remove("BACKUP_PASSWORD");
        info.Environment.Remove("BACKUP_TO_PASSWORD");
        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }

        foreach (string a in args)
        {
            info.ArgumentList.Add(a);
        }

        return info;
    }
}
