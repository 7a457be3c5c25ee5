namespace Backup.TestSupport;

/// <summary>
/// A cable between two NICs for tests: two <see cref="InMemoryNetworkLink"/> ends, each delivering into the other's
/// bounded queue. <see cref="SetUp"/> pulls the cable out or plugs it back (both ends' notifiers run); disposing it
/// takes both ends down and discards what was queued.
/// </summary>
public sealed class InMemoryLinkPair : IDisposable
{
    private volatile bool _up = true;
    private volatile bool _disposed;

    /// <param name="queueFrames">Most frames waiting at one end.</param>
    /// <param name="queueBytes">Most bytes waiting at one end.</param>
    public InMemoryLinkPair(int queueFrames = 256, long queueBytes = 4L << 20)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(queueFrames, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(queueBytes, 1);
        QueueFrames = queueFrames;
        QueueBytes = queueBytes;
        A = new InMemoryNetworkLink(this);
        B = new InMemoryNetworkLink(this);
        A.Peer = B;
        B.Peer = A;
    }

    /// <summary>Most frames waiting at one end.</summary>
    public int QueueFrames { get; }

    /// <summary>Most bytes waiting at one end.</summary>
    public long QueueBytes { get; }

    public InMemoryNetworkLink A { get; }

    public InMemoryNetworkLink B { get; }

    /// <summary>True while the cable is plugged in.</summary>
    public bool IsUp => _up;

    internal bool IsDisposed => _disposed;

    /// <summary>Plugs the cable in (true) or pulls it out (false); both ends are notified of the change.</summary>
    public void SetUp(bool up)
    {
        if (_up == up)
        {
            return;
        }

        _up = up;
        A.Notify();
        B.Notify();
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        A.Clear();
        B.Clear();
        A.Notify();
        B.Notify();
    }
}
