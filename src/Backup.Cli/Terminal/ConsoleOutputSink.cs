namespace Backup.Cli.Terminal;

/// <summary>
/// Guest console bytes to the host's stdout: buffered, flushed at each newline and at least every 50 ms so
/// prompts without a newline still appear.
/// </summary>
public sealed class ConsoleOutputSink : IDisposable
{
    private readonly Stream _out;
    private readonly byte[] _buffer = new byte[4096];
    private readonly Lock _lock = new();
    private readonly Timer _timer;
    private int _count;

    public ConsoleOutputSink(Stream output)
    {
        _out = output;
        _timer = new Timer(_ => Flush(), null, 50, 50);
    }

    /// <summary>Writes a run of guest console bytes, with the same line-wise flushing as byte by byte.</summary>
    public void Write(ReadOnlySpan<byte> bytes)
    {
        foreach (byte b in bytes)
        {
            Write(b);
        }
    }

    public void Write(byte b)
    {
        lock (_lock)
        {
            _buffer[_count++] = b;
            if (b == (byte)'\n' || _count == _buffer.Length)
            {
                FlushLocked();
            }
        }
    }

    public void Flush()
    {
        lock (_lock)
        {
            FlushLocked();
        }
    }

    private void FlushLocked()
    {
        if (_count == 0)
        {
            return;
        }

        try
        {
            _out.Write(_buffer, 0, _count);
            _out.Flush();
        }
        catch (IOException)
        {
            // stdout closed (e.g. piped into head): the VM keeps running, its console is simply not shown.
        }

        _count = 0;
    }

    public void Dispose()
    {
        _timer.Dispose();
        Flush();
    }
}
