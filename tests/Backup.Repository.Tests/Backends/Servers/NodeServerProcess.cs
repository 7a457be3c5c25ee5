using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Backup.Repository.Tests.Backends.Servers;

/// <summary>
/// A test server run with node from the npm cache that appliance/test-servers/install fills (never installed here).
/// The server binds 127.0.0.1 on port 0; the port is read from its "listening" line.
/// </summary>
public sealed class NodeServerProcess : IDisposable
{
    public const string InstallCommand = "appliance/test-servers/install";

    private readonly Process _process;
    private readonly StringBuilder _log = new();

    private NodeServerProcess(Process process) => _process = process;

    public int Port { get; private set; }

    /// <summary>Starts <c>node node_modules/<paramref name="script"/> <paramref name="arguments"/></c> and waits until <paramref name="ready"/> matches a line (group "port").</summary>
    public static NodeServerProcess Start(string name, string script, IEnumerable<string> arguments, Regex ready, TimeSpan timeout)
    {
        var modules = FindNodeModules();
        var path = Path.Combine(modules, script);
        if (!File.Exists(path))
        {
            throw new InvalidOperationException($"{name} is not installed ({path} is missing): run {InstallCommand} (or appliance/prereqs) first");
        }

        var info = new ProcessStartInfo("node")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        info.ArgumentList.Add(path);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start node for {name}");
        var server = new NodeServerProcess(process);
        var port = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnLine(object sender, DataReceivedEventArgs e)
        {
            if (e.Data is null)
            {
                return;
            }

            lock (server._log)
            {
                if (server._log.Length < 64 * 1024)
                {
                    server._log.AppendLine(e.Data);
                }
            }

            var match = ready.Match(e.Data);
            if (match.Success)
            {
                port.TrySetResult(int.Parse(match.Groups["port"].Value, System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        process.OutputDataReceived += OnLine;
        process.ErrorDataReceived += OnLine;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var exited = process.WaitForExitAsync();
        var first = Task.WhenAny(port.Task, exited, Task.Delay(timeout)).GetAwaiter().GetResult();
        if (first != port.Task)
        {
            server.Dispose();
            throw new InvalidOperationException($"{name} did not become ready within {timeout.TotalSeconds:0}s{(process.HasExited ? $" (exited with {process.ExitCode})" : string.Empty)}; output:\n{server.Output}");
        }

        server.Port = port.Task.Result;
        return server;
    }

    public string Output
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
    }

    private static string FindNodeModules()
    {
        var configured = Environment.GetEnvironmentVariable("BACKUP_TEST_SERVERS");
        if (!string.IsNullOrEmpty(configured))
        {
            return Path.Combine(configured, "node_modules");
        }

        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Backup.sln")))
            {
                return Path.Combine(directory.FullName, ".cache", "npm", "node_modules");
            }
        }

        throw new InvalidOperationException($"cannot find the repository root (Backup.sln) above {AppContext.BaseDirectory}; set BACKUP_TEST_SERVERS to the folder {InstallCommand} fills");
    }
}
