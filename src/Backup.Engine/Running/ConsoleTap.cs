using System.Text;

namespace Backup.Engine.Running;

/// <summary>
/// Receives a VM's console output: appends it to a log file (when given), keeps the most recent bytes for a
/// late-attaching console, hands every byte to live subscribers, and raises <see cref="LineReceived"/> per line
/// (used to notice `guest: ready`). Safe to feed from the VM thread while others subscribe. The log is rotated when it
/// reaches <see cref="DefaultMaxLogBytes"/> (the previous one kept as <c>.1</c>), so a chatty guest cannot fill the disk.
/// </summary>
public sealed class ConsoleTap : IDisposable
{
    /// <summary>Size at which the log is rotated.</summary>
    public const long DefaultMaxLogBytes = 16L << 20;

    private const int HistoryBytes = 64 * 1024;
    private readonly string? _logPath;
    private readonly long _maxLogBytes;
    private Stream? _log;
    private readonly byte[] _history = new byte[HistoryBytes];
    private readonly StringBuilder _line = new();
    private readonly Lock _gate = new();
    private readonly List<Action<byte[]>> _subscribers = [];
    private readonly byte[] _pending = new byte[256];
    private long _written;
    private int _pendingCount;

    /// <param name="logPath">File the console is appended to, or null.</param>
    /// <param name="maxLogBytes">Size at which the log is rotated to <c>logPath.1</c>.</param>
    public ConsoleTap(string? logPath, long maxLogBytes = DefaultMaxLogBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLogBytes, 4096);
        _logPath = logPath;
        _maxLogBytes = maxLogBytes;
        if (logPath is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(logPath))!);
            _log = OpenLog(logPath);
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
            try
            {
                _log?.Flush();
            }
            catch (IOException)
            {
                _log?.Dispose();
                _log = null;
            }
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
        if (_log is not null)
        {
            if (_log.Length + chunk.Length > _maxLogBytes)
            {
                Rotate();
            }

            try
            {
                _log?.Write(chunk);
            }
            catch (IOException)
            {
                // Disk full or gone: the guest keeps running; attached consoles still get its output.
                _log?.Dispose();
                _log = null;
            }
        }

        foreach (var subscriber in _subscribers)
        {
            subscriber(chunk);
        }
    }

    private static FileStream OpenLog(string path) =>
        new(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, 4096);

    private void Rotate()
    {
        try
        {
            _log!.Dispose();
            File.Move(_logPath!, _logPath + ".1", overwrite: true);
            _log = OpenLog(_logPath!);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The console must never stop the VM: without a log file, output still reaches attached consoles.
            _log = null;
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
