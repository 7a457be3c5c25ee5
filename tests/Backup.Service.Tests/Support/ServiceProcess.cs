using System.Diagnostics;
using System.Text;

namespace Backup.Service.Tests.Support;

/// <summary>`backup serve` as a real process (JSON logs on stdout), so a test can kill it as a crash would.</summary>
internal sealed class ServiceProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();
    private readonly List<(string Needle, TaskCompletionSource<string> Found)> _waits = [];

    private ServiceProcess(Process process) => _process = process;

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    public int Id => _process.Id;

    public static ServiceProcess Start(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "backup.dll"));
        foreach (string a in args)
        {
            info.ArgumentList.Add(a);
        }

        var process = new Process { StartInfo = info };
        var service = new ServiceProcess(process);
        process.OutputDataReceived += (_, e) => service.Received(e.Data);
        process.ErrorDataReceived += (_, e) => service.Received(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return service;
    }

    /// <summary>Waits for a log line containing every one of <paramref name="needles"/>; returns the line.</summary>
    public async Task<string> WaitForAsync(TimeSpan timeout, params string[] needles)
    {
        var found = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        string key = string.Join('\u0001', needles);
        lock (_log)
        {
            var line = _log.ToString().Split('\n').FirstOrDefault(l => needles.All(n => l.Contains(n, StringComparison.Ordinal)));
            if (line is not null)
            {
                return line;
            }

            _waits.Add((key, found));
        }

        try
        {
            return await found.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"no log line with [{string.Join(", ", needles)}] within {timeout}; the service logged:\n{Log}");
        }
    }

    /// <summary>Kills the process as a crash or power cut would (SIGKILL, no clean-up).</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit(30_000);
    }

    /// <summary>Asks it to stop as systemd would (SIGTERM) and waits.</summary>
    public int Terminate(TimeSpan timeout)
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            kill.WaitForExit();
        }

        if (!_process.WaitForExit(timeout))
        {
            Kill();
            throw new TimeoutException($"the service did not stop within {timeout} of SIGTERM; it logged:\n{Log}");
        }

        _process.WaitForExit();
        return _process.ExitCode;
    }

    public bool HasExited => _process.HasExited;

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            Kill();
        }

        _process.Dispose();
    }

    private void Received(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_log)
        {
            _log.AppendLine(line);
            for (int i = _waits.Count - 1; i >= 0; i--)
            {
                var needles = _waits[i].Needle.Split('\u0001');
                if (needles.All(n => line.Contains(n, StringComparison.Ordinal)))
                {
                    _waits[i].Found.TrySetResult(line);
                    _waits.RemoveAt(i);
                }
            }
        }
    }
}
