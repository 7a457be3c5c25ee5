using System.Globalization;
using System.Text.RegularExpressions;

namespace Backup.TestSupport;

/// <summary>
/// A guest driven through its serial console shell (the stock Debian guest's net.shell=1): commands are typed, each
/// followed by a marker carrying its exit status that the echo of the typed line cannot match. Every wait is bounded
/// and throws (<see cref="TimeoutException"/>, <see cref="InvalidOperationException"/>) with the end of the console.
/// </summary>
public abstract partial class ConsoleDrivenGuest : IDisposable
{
    private int _scanFrom;

    protected ConsoleDrivenGuest(string name) => Name = name;

    public string Name { get; }

    /// <summary>Everything the console printed so far.</summary>
    public abstract string ConsoleText { get; }

    /// <summary>Waits until the console shows <paramref name="text"/>; fails with the console if it does not.</summary>
    public void WaitFor(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!ConsoleText.Contains(text, StringComparison.Ordinal))
        {
            FailIfStoppedOrLate(deadline, $"'{text}'");
            Thread.Sleep(20);
        }
    }

    /// <summary>Types <paramref name="command"/> and returns without waiting; <see cref="Finish"/> collects it.</summary>
    public void Start(string command)
    {
        _scanFrom = ConsoleText.Length;
        Type(command + "; echo \"status-$?-end\"\n");
    }

    /// <summary>Waits for the command started last to end; returns its exit status and what it printed.</summary>
    public (int Status, string Output) Finish(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            string text = ConsoleText;
            var match = StatusMarker().Match(text, Math.Min(_scanFrom, text.Length));
            if (match.Success)
            {
                return (int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture), text[_scanFrom..match.Index]);
            }

            FailIfStoppedOrLate(deadline, "the command's end");
            Thread.Sleep(20);
        }
    }

    /// <summary>Runs <paramref name="command"/> to its end and asserts it succeeded; returns what it printed.</summary>
    public string Run(string command, TimeSpan timeout)
    {
        Start(command);
        var (status, output) = Finish(timeout);
        if (status != 0)
        {
            throw new InvalidOperationException($"{Name}: '{command}' exited {status}\n--- output ---\n{output}\n{Diagnostics()}");
        }

        return output;
    }

    public abstract void Dispose();

    /// <summary>
    /// Sends <paramref name="mebibytes"/> MiB of random data from <paramref name="sender"/> to a busybox nc listening on
    /// port 5000 of <paramref name="receiver"/> (into a file) and checks that SHA-256 matches on both ends. Returns the
    /// seconds from the send command to the sender's nc ending (it ends once the receiver has everything; connection
    /// set-up included). Throws <see cref="InvalidOperationException"/> when the data differs.
    /// </summary>
    public static double SendOverTcp(ConsoleDrivenGuest sender, ConsoleDrivenGuest receiver, string receiverAddress, int mebibytes, TimeSpan commandTimeout)
    {
        ArgumentNullException.ThrowIfNull(sender);
        ArgumentNullException.ThrowIfNull(receiver);
        string sent = Checksum(sender.Run($"head -c {mebibytes << 20} /dev/urandom > /tmp/tx && sha256sum /tmp/tx", commandTimeout), "/tmp/tx");
        receiver.Start("rm -f /tmp/rx; nc -l -p 5000 > /tmp/rx");
        Thread.Sleep(500);
        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        sender.Run($"for i in 1 2 3 4 5 6 7 8 9 10; do nc {receiverAddress} 5000 < /tmp/tx && break; sleep 1; done", TimeSpan.FromMinutes(10));
        double seconds = stopwatch.Elapsed.TotalSeconds;
        var (status, output) = receiver.Finish(TimeSpan.FromMinutes(1));
        if (status != 0)
        {
            throw new InvalidOperationException($"{receiver.Name}: the receiving nc exited {status}:\n{output}");
        }

        string received = Checksum(receiver.Run("sha256sum /tmp/rx", commandTimeout), "/tmp/rx");
        if (received != sent)
        {
            throw new InvalidOperationException($"{mebibytes} MiB sent with SHA-256 {sent} arrived with SHA-256 {received}");
        }

        return seconds;
    }

    private static string Checksum(string output, string file) =>
        Regex.Match(output, $@"\b([0-9a-f]{{64}})\s+{Regex.Escape(file)}") is { Success: true } m ? m.Groups[1].Value
            : throw new InvalidOperationException($"no checksum of {file} in:\n{output}");

    /// <summary>Sends keystrokes to the console.</summary>
    protected abstract void Type(string text);

    /// <summary>Null while the guest runs, else how it ended.</summary>
    protected abstract string? Ended();

    /// <summary>More to show when a command fails (device errors).</summary>
    protected virtual string Diagnostics() => string.Empty;

    private void FailIfStoppedOrLate(DateTime deadline, string what)
    {
        string text = ConsoleText;
        string tail = text.Length > 4000 ? text[^4000..] : text;
        if (Ended() is { } how)
        {
            throw new InvalidOperationException($"{Name} stopped ({how}) before {what}\n--- console ---\n{tail}");
        }

        if (DateTime.UtcNow > deadline)
        {
            throw new TimeoutException($"{Name}: no {what} in time\n--- console ---\n{tail}\n{Diagnostics()}");
        }
    }

    [GeneratedRegex(@"status-(\d+)-end")]
    private static partial Regex StatusMarker();
}
