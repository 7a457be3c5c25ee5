using System.Net;
using Backup.Network.Endpoint;

namespace Backup.Network.Tcp;

/// <summary>
/// A TCP connection of the appliance endpoint as a <see cref="Stream"/>. Reads return 0 at the peer's FIN; failures
/// (reset, timeout) throw <see cref="NetworkException"/>. <see cref="ShutdownWrite"/> half-closes; disposing closes
/// gracefully (FIN); <see cref="Abort"/> resets.
/// </summary>
public sealed class TcpStream : Stream
{
    private readonly TcpConnection _connection;
    private int _disposed;

    internal TcpStream(TcpConnection connection)
    {
        _connection = connection;
    }

    /// <summary>The peer's address and port.</summary>
    public IPEndPoint RemoteEndPoint => _connection.RemoteEndPoint;

    /// <summary>The local (endpoint) port.</summary>
    public int LocalPort => _connection.Key.LocalPort;

    /// <summary>The connection's TCP state.</summary>
    public TcpState State => _connection.State;

    /// <summary>The connection's state and sequence numbers, for diagnostics.</summary>
    public override string ToString() => _connection.ToString();

    /// <inheritdoc />
    public override bool CanRead => true;

    /// <inheritdoc />
    public override bool CanSeek => false;

    /// <inheritdoc />
    public override bool CanWrite => true;

    /// <inheritdoc />
    public override long Length => throw new NotSupportedException("a TCP stream has no length");

    /// <inheritdoc />
    public override long Position
    {
        get => throw new NotSupportedException("a TCP stream has no position");
        set => throw new NotSupportedException("a TCP stream has no position");
    }

    /// <summary>Sends a FIN after the data written so far; reading goes on until the peer closes.</summary>
    public void ShutdownWrite() => _connection.ShutdownWrite();

    /// <summary>Resets the connection (RST).</summary>
    public void Abort() => _connection.Abort("connection aborted locally");

    /// <inheritdoc />
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        _connection.ReadAsync(buffer, cancellationToken);

    /// <inheritdoc />
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        _connection.ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc />
    public override int Read(byte[] buffer, int offset, int count) =>
        _connection.ReadAsync(buffer.AsMemory(offset, count), CancellationToken.None).AsTask().GetAwaiter().GetResult();

    /// <inheritdoc />
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        _connection.WriteAsync(buffer, cancellationToken);

    /// <inheritdoc />
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        _connection.WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc />
    public override void Write(byte[] buffer, int offset, int count) =>
        _connection.WriteAsync(buffer.AsMemory(offset, count), CancellationToken.None).AsTask().GetAwaiter().GetResult();

    /// <inheritdoc />
    public override void Flush()
    {
        // segments leave as soon as the windows allow: nothing is held back
    }

    /// <inheritdoc />
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("a TCP stream cannot seek");

    /// <inheritdoc />
    public override void SetLength(long value) => throw new NotSupportedException("a TCP stream has no length");

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _connection.Close();
        }

        base.Dispose(disposing);
    }
}
