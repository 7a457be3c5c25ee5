using System.Text;

namespace Backup.Engine.Running;

/// <summary>
/// Receives a VM's console output: appends it to a log file (when given), keeps the most recent bytes for a
/// late-attaching console, hands every byte to live subscribers, and raises <see cref="LineReceived"/> per line
/// (used to notice `guest: ready`). Safe to feed from the VM thread while others subscribe.
/// </summary>
public sealed class ConsoleTap : IDisposable
{
    private const int HistoryBytes = 64 * 1024;
    private readonly Stream? _log;
    private readonly byte[] _history = new byte[HistoryBytes];
    private readonly StringBuilder _line = new();
    private readonly Lock _gate = new();
    private readonly List<Action<byte[]>> _subscribers = [];
    private readonly byte[] _pending = new byte[256];
    private long _written;
    private int _pendingCount;

    /// <param name="logPath">File the console is appended to, or null.</param>
    public ConsoleTap(string? logPath)
    {
        if (logPath is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(logPath))!);
            _log = new FileStream(logPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, 4096);
        }
    }

    /// <summary>Raised on the VM thread for each complete console line (without the line break).</summary>
    public event Action<string>? LineReceived;

    /// <summary>Feeds one byte of guest output.</summary>
    public void Write(byte b)
    {
        string? completed = null;
        lock (_gate)
        {
            _history[_written % HistoryBytes] = b;
            _written++;
            _pending[_pendingCount++] = b;
            if (b == (byte)'\n' || _pendingCount == _pending.Length)
            {
                FlushPendingLocked();
            }

            if (b == (byte)'\n')
            {
                completed = _line.ToString().TrimEnd('\r');
                _line.Clear();
            }
            else if (_line.Length < 4096)
            {
                _line.Append((char)b);
            }
        }

        if (completed is not null)
        {
            LineReceived?.Invoke(completed);
        }
    }

    /// <summary>Pushes buffered output to the log and subscribers (call when the guest goes quiet or stops).</summary>
    public void Flush()
    {
        lock (_gate)
        {
            FlushPendingLocked();
            _log?.Flush();
        }
    }

    /// <summary>
    /// The recent output (up to 64 KiB) and a subscription to everything after it, atomically: nothing is lost
    /// or repeated between the two. Dispose the result to unsubscribe.
    /// </summary>
    public IDisposable Attach(Action<byte[]> output, out byte[] recent)
    {
        lock (_gate)
        {
            FlushPendingLocked();
            int count = (int)Math.Min(_written, HistoryBytes);
            recent = new byte[count];
            long start = _written - count;
            for (int i = 0; i < count; i++)
            {
                recent[i] = _history[(start + i) % HistoryBytes];
            }

            _subscribers.Add(output);
            return new Subscription(this, output);
        }
    }

    public void Dispose()
    {
        Flush();
        _log?.Dispose();
    }

    private void FlushPendingLocked()
    {
        if (_pendingCount == 0)
        {
            return;
        }

        byte[] chunk = _pending.AsSpan(0, _pendingCount).ToArray();
        _pendingCount = 0;
        _log?.Write(chunk);
        foreach (var subscriber in _subscribers)
        {
            subscriber(chunk);
        }
    }

    private sealed class Subscription(ConsoleTap tap, Action<byte[]> output) : IDisposable
    {
        public void Dispose()
        {
            lock (tap._gate)
            {
                tap._subscribers.Remove(output);
            }
        }
    }
}
