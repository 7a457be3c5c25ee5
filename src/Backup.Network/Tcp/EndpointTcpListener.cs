using System.Threading.Channels;
using Backup.Network.Endpoint;

namespace Backup.Network.Tcp;

/// <summary>A TCP port the appliance endpoint listens on; completed connections wait (bounded backlog) for <see cref="AcceptAsync"/>.</summary>
public sealed class EndpointTcpListener : IDisposable
{
    private readonly Channel<TcpConnection> _ready;
    private readonly Action<EndpointTcpListener> _unregister;
    private int _halfOpen;

    internal EndpointTcpListener(int port, int backlog, Action<EndpointTcpListener> unregister)
    {
        Port = port;
        Backlog = backlog;
        _unregister = unregister;
        _ready = Channel.CreateBounded<TcpConnection>(new BoundedChannelOptions(backlog) { FullMode = BoundedChannelFullMode.Wait });
    }

    /// <summary>The port.</summary>
    public int Port { get; }

    /// <summary>Most connections waiting to be accepted (and most half-open ones).</summary>
    public int Backlog { get; }

    /// <summary>Waits for the next established connection.</summary>
    public async Task<TcpStream> AcceptAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            var connection = await _ready.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            return new TcpStream(connection);
        }
        catch (ChannelClosedException)
        {
            throw new NetworkException(NetworkFailure.Unavailable, $"the listener on port {Port} is closed");
        }
    }

    /// <summary>Stops listening; connections not yet accepted are reset.</summary>
    public void Dispose()
    {
        _unregister(this);
        _ready.Writer.TryComplete();
        while (_ready.Reader.TryRead(out var connection))
        {
            connection.Abort("listener closed");
        }
    }

    internal bool TryReserveHalfOpen()
    {
        if (Interlocked.Increment(ref _halfOpen) > Backlog)
        {
            Interlocked.Decrement(ref _halfOpen);
            return false;
        }

        return true;
    }

    internal void Established(TcpConnection connection)
    {
        Interlocked.Decrement(ref _halfOpen);
        if (!_ready.Writer.TryWrite(connection))
        {
            connection.Abort("listener backlog full");
        }
    }

    internal void HalfOpenFailed() => Interlocked.Decrement(ref _halfOpen);
}
