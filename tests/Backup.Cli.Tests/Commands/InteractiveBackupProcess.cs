using System.Diagnostics;
using System.Text;

namespace Backup.Cli.Tests.Commands;

/// <summary>
/// The real `backup` command driven like a terminal session: the test types into its stdin while it runs and
/// waits for what it prints.
/// </summary>
internal sealed class InteractiveBackupProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly Task _stdoutPump;
    private readonly Task _stderrPump;
    private readonly string _command;

    public InteractiveBackupProcess(params string[] args)
    {
        _command = "backup " + string.Join(' ', args);
        _process = Process.Start(BackupProcess.StartInfo(new Dictionary<string, string?>(), args))!;
        _stdoutPump = Pump(_process.StandardOutput, _stdout);
        _stderrPump = Pump(_process.StandardError, _stderr);
    }

    public string StdOut => Read(_stdout);

    public string StdErr => Read(_stderr);

    /// <summary>Types <paramref name="text"/> (UTF-8) into the command's stdin.</summary>
    public void Type(string text)
    {
        _process.StandardInput.Write(text);
        _process.StandardInput.Flush();
    }

    /// <summary>Ends stdin, as a pipe whose writer finished does.</summary>
    public void CloseInput() => _process.StandardInput.Close();

    /// <summary>Waits until stdout holds <paramref name="text"/> at least <paramref name="count"/> times.</summary>
    public void WaitForOutput(string text, int count, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (Occurrences(StdOut, text) < count)
        {
            if (_process.HasExited && _stdoutPump.IsCompleted && Occurrences(StdOut, text) < count)
            {
                throw new InvalidOperationException($"{_command} exited ({_process.ExitCode}) before printing '{text}' {count} times:\n{StdOut}\n{StdErr}");
            }

            if (deadline.Elapsed > timeout)
            {
                throw new TimeoutException($"{_command} did not print '{text}' {count} times in {timeout}:\n{StdOut}\n{StdErr}");
            }

            Thread.Sleep(20);
        }
    }

    public int WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            throw new TimeoutException($"{_command} did not finish in {timeout}:\n{StdOut}\n{StdErr}");
        }

        Task.WaitAll(_stdoutPump, _stderrPump);
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        _process.Dispose();
    }

    public static int Occurrences(string haystack, string needle)
    {
        int count = 0;
        for (int at = haystack.IndexOf(needle, StringComparison.Ordinal); at >= 0; at = haystack.IndexOf(needle, at + needle.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    private static string Read(StringBuilder buffer)
    {
        lock (buffer)
        {
            return buffer.ToString();
        }
    }

    private static Task Pump(StreamReader reader, StringBuilder into) => Task.Run(async () =>
    {
        var chunk = new char[4096];
        int n;
        while ((n = await reader.ReadAsync(chunk.AsMemory()).ConfigureAwait(false)) > 0)
        {
            lock (into)
            {
                into.Append(chunk, 0, n);
            }
        }
    });
}
