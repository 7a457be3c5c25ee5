using System.Net;
using System.Net.Sockets;
using Backup.Network.Endpoint;
using Backup.Network.Tcp;

namespace Backup.Network.Forwarding;

/// <summary>
/// A host TCP listener on loopback whose connections are bridged, through the appliance endpoint, to a guest's TCP
/// port; the guest's address is resolved for each connection (its DHCP lease or reservation). A guest that cannot be
/// reached closes the host connection (after the connect timeout when it never answers); half-closes pass both ways;
/// a reset on either side resets the other.
/// </summary>
public sealed class TcpPortForward : IDisposable
{
    private const int BufferSize = 256 * 1024;
    private readonly ApplianceEndpoint _endpoint;
    private readonly Func<IPAddress?> _resolveGuest;
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;
    private long _accepted, _failed, _active;
    private int _disposed;
    private string? _lastFailure;

    /// <summary>Starts listening on <paramref name="spec"/>'s loopback address and port.</summary>
    public TcpPortForward(ApplianceEndpoint endpoint, ForwardSpec spec, string guestName, Func<IPAddress?> resolveGuest, TimeSpan connectTimeout)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(spec);
        _endpoint = endpoint;
        _resolveGuest = resolveGuest;
        Spec = spec;
        GuestName = guestName;
        ConnectTimeout = connectTimeout;
        _listener = new TcpListener(spec.HostAddress, spec.HostPort);
        try
        {
            _listener.Start();
        }
        catch (SocketException e)
        {
            throw new IOException($"cannot forward {spec} for '{guestName}': {spec.HostAddress}:{spec.HostPort} is not free ({e.Message})", e);
        }

        HostEndPoint = (IPEndPoint)_listener.LocalEndpoint;
        _acceptLoop = AcceptLoopAsync();
    }

    /// <summary>What is forwarded.</summary>
    public ForwardSpec Spec { get; }

    /// <summary>The VM (or test peer) behind the forward, for messages.</summary>
    public string GuestName { get; }

    /// <summary>How long a guest may take to accept the connection.</summary>
    public TimeSpan ConnectTimeout { get; }

    /// <summary>The address and port actually listened on (the port is chosen when the spec says 0).</summary>
    public IPEndPoint HostEndPoint { get; }

    /// <summary>Host connections accepted.</summary>
    public long Accepted => Interlocked.Read(ref _accepted);

    /// <summary>Host connections closed because the guest could not be reached.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Bridged connections open now.</summary>
    public long Active => Interlocked.Read(ref _active);

    /// <summary>Why the last connection to the guest failed, if one did.</summary>
    public string? LastFailure => Volatile.Read(ref _lastFailure);

    /// <summary>Stops listening and resets every bridged connection.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stop.Cancel();
        _listener.Stop();
        try
        {
            _acceptLoop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // the loop ends with the listener
        }

        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            Interlocked.Increment(ref _accepted);
            _ = BridgeSafelyAsync(client);
        }
    }

    private async Task BridgeSafelyAsync(TcpClient client)
    {
        try
        {
            await BridgeAsync(client).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
            Fail($"'{GuestName}': {e.Message}"); // the forward shut down or a socket failed mid-bridge
        }
    }

    private async Task BridgeAsync(TcpClient client)
    {
        using (client)
        {
            client.NoDelay = true;
            var guest = _resolveGuest();
            if (guest is null)
            {
                Fail($"'{GuestName}' has no IP address (no DHCP lease or reservation for its MAC)");
                return;
            }

            TcpStream stream;
            try
            {
                stream = await _endpoint.ConnectTcpAsync(guest, Spec.GuestPort, ConnectTimeout, _stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is NetworkException or OperationCanceledException or ObjectDisposedException)
            {
                Fail($"'{GuestName}' ({guest}:{Spec.GuestPort}): {e.Message}");
                client.LingerState = new LingerOption(true, 0); // the host sees a reset, like a refused connection
                return;
            }

            Interlocked.Increment(ref _active);
            try
            {
                await PumpAsync(client, stream).ConfigureAwait(false);
            }
            finally
            {
                Interlocked.Decrement(ref _active);
                await stream.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task PumpAsync(TcpClient client, TcpStream stream)
    {
        var host = client.GetStream();
        using var abort = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        var up = CopyAsync(host, stream, () => stream.ShutdownWrite(), abort.Token);
        var down = CopyAsync(stream, host, () => client.Client.Shutdown(SocketShutdown.Send), abort.Token);
        var first = await Task.WhenAny(up, down).ConfigureAwait(false);
        if (first.IsFaulted || first.IsCanceled)
        {
            ResetBoth(client, stream);
            await abort.CancelAsync().ConfigureAwait(false);
        }

        try
        {
            await Task.WhenAll(up, down).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            ResetBoth(client, stream);
        }
    }

    private static void ResetBoth(TcpClient client, TcpStream stream)
    {
        stream.Abort();
        try
        {
            client.LingerState = new LingerOption(true, 0);
            client.Client.Close();
        }
        catch (ObjectDisposedException)
        {
            // already closed
        }
    }

    private static async Task CopyAsync(Stream from, Stream to, Action halfClose, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[BufferSize];
        int n;
        while ((n = await from.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
        {
            await to.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
        }

        halfClose();
    }

    private void Fail(string reason)
    {
        Interlocked.Increment(ref _failed);
        Volatile.Write(ref _lastFailure, reason);
    }
}
