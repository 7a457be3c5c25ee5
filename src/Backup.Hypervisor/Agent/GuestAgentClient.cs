using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace Backup.Hypervisor.Agent;

/// <summary>
/// Host side of the guest agent (docs/guest.md, "agent protocol"): one request line <c>&lt;id&gt; &lt;command&gt;</c>,
/// one answer line <c>&lt;id&gt; ok &lt;payload&gt;</c> or <c>&lt;id&gt; err &lt;message&gt;</c>, over the VM's agent serial
/// channel. Answers are matched by id, so a late answer to a timed-out request is ignored. Bytes from the guest
/// arrive on the VM thread through <see cref="Receive"/>; requests may be made from any thread.
/// </summary>
public sealed class GuestAgentClient
{
    /// <summary>Longest line accepted from the guest; longer ones are discarded (a hostile or confused guest).</summary>
    public const int MaxLineLength = 4096;

    private readonly Action<byte[]> _send;
    private readonly ConcurrentDictionary<string, TaskCompletionSource<string>> _pending = new(StringComparer.Ordinal);
    private readonly StringBuilder _line = new();
    private readonly Lock _lock = new();
    private bool _discarding;
    private int _nextId;

    /// <param name="send">Delivers request bytes to the guest's end of the channel.</param>
    public GuestAgentClient(Action<byte[]> send)
    {
        _send = send;
    }

    /// <summary>True once the agent announced itself (<c>&lt;none&gt; ok agent-ready</c>) since the VM started.</summary>
    public bool AnnouncedReady { get; private set; }

    /// <summary>Lines from the guest that were not answers to a pending request (diagnostics).</summary>
    public int UnmatchedLines { get; private set; }

    /// <summary>Feeds one byte written by the guest to the channel.</summary>
    public void Receive(byte b)
    {
        string? complete = null;
        lock (_lock)
        {
            if (b == (byte)'\n')
            {
                if (!_discarding)
                {
                    complete = _line.ToString().TrimEnd('\r');
                }

                _line.Clear();
                _discarding = false;
            }
            else if (!_discarding)
            {
                if (_line.Length >= MaxLineLength)
                {
                    _line.Clear();
                    _discarding = true;
                }
                else
                {
                    _line.Append(b is >= 0x20 and < 0x7F or (byte)'\t' ? (char)b : '?');
                }
            }
        }

        if (complete is not null)
        {
            Dispatch(complete);
        }
    }

    /// <summary>Sends a command and returns the answer's payload; throws <see cref="GuestAgentException"/> on err or timeout.</summary>
    public async Task<string> RequestAsync(string command, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(command);
        if (command.Contains('\n', StringComparison.Ordinal))
        {
            throw new ArgumentException("a command is one line", nameof(command));
        }

        string id = "h" + Interlocked.Increment(ref _nextId).ToString(CultureInfo.InvariantCulture);
        var answer = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = answer;
        try
        {
            _send(Encoding.ASCII.GetBytes($"{id} {command}\n"));
            return await answer.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException e)
        {
            throw new GuestAgentException($"the guest agent did not answer '{command}' within {timeout.TotalSeconds:0.###} s", e) { TimedOut = true };
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    /// <summary>Pings until the agent answers or <paramref name="timeout"/> passes (the agent starts with the guest).</summary>
    public async Task WaitUntilReadyAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                throw new GuestAgentException($"the guest agent did not come up within {timeout.TotalSeconds:0.###} s") { TimedOut = true };
            }

            try
            {
                await PingAsync(left < TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (GuestAgentException e) when (e.TimedOut)
            {
                // not up yet: ask again
            }
        }
    }

    public async Task PingAsync(TimeSpan timeout, CancellationToken cancellationToken = default) =>
        Expect("ping", "pong", await RequestAsync("ping", timeout, cancellationToken).ConfigureAwait(false));

    /// <summary>Syncs and freezes the guest's data filesystem (application-consistent snapshots).</summary>
    public async Task FreezeAsync(TimeSpan timeout, CancellationToken cancellationToken = default) =>
        Expect("freeze", "frozen", await RequestAsync("freeze", timeout, cancellationToken).ConfigureAwait(false));

    public async Task ThawAsync(TimeSpan timeout, CancellationToken cancellationToken = default) =>
        Expect("thaw", "thawed", await RequestAsync("thaw", timeout, cancellationToken).ConfigureAwait(false));

    /// <summary>Runs a named check in the guest (e.g. "db": integrity, highest sequence number).</summary>
    public async Task<GuestCheckResult> CheckAsync(string name, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        GuestCheckResult.Parse(name, await RequestAsync($"check {name}", timeout, cancellationToken).ConfigureAwait(false));

    /// <summary>Time since the guest booted.</summary>
    public async Task<TimeSpan> UptimeAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        string payload = await RequestAsync("uptime", timeout, cancellationToken).ConfigureAwait(false);
        if (!double.TryParse(payload, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) || seconds < 0)
        {
            throw new GuestAgentException($"the guest agent answered 'uptime' with '{payload}', not a number of seconds");
        }

        return TimeSpan.FromSeconds(seconds);
    }

    private static void Expect(string command, string expected, string payload)
    {
        if (payload != expected)
        {
            throw new GuestAgentException($"the guest agent answered '{command}' with '{payload}' instead of '{expected}'");
        }
    }

    private void Dispatch(string line)
    {
        // "<id> ok <payload>" | "<id> err <message>"
        string[] parts = line.Split(' ', 3);
        if (parts.Length < 2)
        {
            UnmatchedLines++;
            return;
        }

        string payload = parts.Length == 3 ? parts[2] : string.Empty;
        if (parts[0] == "<none>" && parts[1] == "ok" && payload == "agent-ready")
        {
            AnnouncedReady = true;
            return;
        }

        if (!_pending.TryGetValue(parts[0], out var answer))
        {
            UnmatchedLines++;
            return;
        }

        switch (parts[1])
        {
            case "ok":
                answer.TrySetResult(payload);
                break;
            case "err":
                answer.TrySetException(new GuestAgentException($"the guest agent refused: {payload}"));
                break;
            default:
                UnmatchedLines++;
                break;
        }
    }
}
