using System.Net;
using System.Security.Cryptography;
using Backup.Network.Endpoint;
using Backup.Network.Ethernet;

namespace Backup.Network.Tcp;

/// <summary>
/// One TCP connection of an <see cref="ApplianceEndpoint"/> (RFC 9293): sequence numbers, retransmission with an RFC
/// 6298 timer and Karn's rule, NewReno congestion control (RFC 5681/6582), window scaling and MSS (RFC 7323),
/// out-of-order reassembly, zero-window probes, FIN/RST handling; bounded send and receive buffers. No Nagle: what the
/// application writes goes out as soon as the windows allow. Input arrives on the endpoint's receive thread, output
/// from the application's and the timer's; one lock guards the state.
/// </summary>
internal sealed partial class TcpConnection : IDisposable
{
    private const int OurMss = 1460;
    private const int MaxRetries = 10;
    private const int MinRtoMs = 200;
    private const int MaxRtoMs = 60_000;

    private readonly ApplianceEndpoint _endpoint;
    private readonly Lock _gate = new();
    private readonly ByteRing _send;
    private readonly ByteRing _recv;
    private readonly Timer _timer;
    private readonly TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly int _ourScale;
    private TaskCompletionSource? _readable;
    private TaskCompletionSource? _writable;
    private NetworkException? _failure;

    private uint _iss, _sndUna, _sndNxt, _sndMax, _wl1, _wl2, _finSeq, _recover, _rttSeq;
    private long _sndWnd, _cwnd, _ssthresh = long.MaxValue;
    private int _mss = 536, _sndShift, _rcvShift, _dupAcks, _retries, _backoff;
    private bool _finSent, _finEverSent, _finAcked, _writeClosed, _inRecovery, _timing, _appClosed;
    private uint _irs, _rcvNxt;
    private bool _finReceived, _ackPending, _peerScales;
    private long _advertisedRight;
    private long _rttStart;
    private double _srtt = -1, _rttvar;
    private int _rtoMs = 1000;
    private TimerMode _timerMode;

    public TcpConnection(ApplianceEndpoint endpoint, TcpKey key, MacAddress remoteMac)
    {
        _endpoint = endpoint;
        Key = key;
        RemoteMac = remoteMac;
        _send = new ByteRing(endpoint.Options.TcpSendBuffer);
        _recv = new ByteRing(endpoint.Options.TcpReceiveBuffer);
        while (_ourScale < 14 && (endpoint.Options.TcpReceiveBuffer >> _ourScale) > 65535)
        {
            _ourScale++;
        }

        _iss = (uint)RandomNumberGenerator.GetInt32(int.MaxValue);
        _sndUna = _iss;
        _sndNxt = _iss;
        _timer = new Timer(static s => ((TcpConnection)s!).OnTimer(), this, Timeout.Infinite, Timeout.Infinite);
    }

    private enum TimerMode
    {
        None,
        Retransmit,
        Persist,
        TimeWait,
        FinWait2,
    }

    public TcpKey Key { get; }

    public MacAddress RemoteMac { get; }

    public IPEndPoint RemoteEndPoint => new(ApplianceEndpoint.ToAddress(Key.RemoteIp), Key.RemotePort);

    public TcpState State { get; private set; } = TcpState.Closed;

    /// <summary>Completes when the connection is established; faults with a <see cref="NetworkException"/> when it cannot be.</summary>
    public Task Connected => _connected.Task;

    /// <summary>The listener a passive open came through; told when it completes or fails.</summary>
    public EndpointTcpListener? Listener { get; init; }

    private long Flight => (uint)(_sndNxt - _sndUna);

    private string Peer => $"{ApplianceEndpoint.ToAddress(Key.RemoteIp)}:{Key.RemotePort}";

    public async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task wait;
            lock (_gate)
            {
                if (_recv.Count > 0 && buffer.Length > 0)
                {
                    int n = _recv.Read(buffer.Span);
                    MaybeSendWindowUpdate();
                    return n;
                }

                if (_finReceived || buffer.Length == 0)
                {
                    return 0;
                }

                if (_failure is not null)
                {
                    throw new NetworkException(_failure.Failure, _failure.Message);
                }

                if (State == TcpState.Closed)
                {
                    return 0;
                }

                _readable ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                wait = _readable.Task;
            }

            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        int offset = 0;
        while (offset < data.Length)
        {
            Task wait;
            lock (_gate)
            {
                if (_failure is not null)
                {
                    throw new NetworkException(_failure.Failure, _failure.Message);
                }

                if (_writeClosed || State is not (TcpState.Established or TcpState.CloseWait))
                {
                    throw new NetworkException(NetworkFailure.Unavailable, $"connection to {Peer} is closed for writing ({State})");
                }

                int n = _send.Write(data.Span[offset..]);
                offset += n;
                if (n > 0)
                {
                    TrySend();
                }

                if (offset == data.Length)
                {
                    return;
                }

                _writable ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                wait = _writable.Task;
            }

            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Half-close: a FIN follows the data already written.</summary>
    public void ShutdownWrite()
    {
        lock (_gate)
        {
            if (_writeClosed)
            {
                return;
            }

            _writeClosed = true;
            TrySend();
        }
    }

    /// <summary>Graceful close: FIN after the written data; data arriving later is acknowledged and discarded.</summary>
    public void Close()
    {
        lock (_gate)
        {
            _appClosed = true;
            _recv.Discard(_recv.Count);
            if (State is TcpState.SynSent or TcpState.SynReceived)
            {
                SendReset();
                Fail(NetworkFailure.Unavailable, $"connection to {Peer} closed before it was established");
                return;
            }

            if (!_writeClosed)
            {
                _writeClosed = true;
                TrySend();
            }

            if (State == TcpState.FinWait2)
            {
                Arm(TimerMode.FinWait2, 60_000);
            }
        }
    }

    /// <summary>Abortive close: a RST, and every waiter fails.</summary>
    public void Abort(string reason)
    {
        lock (_gate)
        {
            if (State is not (TcpState.Closed or TcpState.TimeWait))
            {
                SendReset();
            }

            Fail(NetworkFailure.Reset, reason);
        }
    }

    /// <summary>Sends the ACK deferred while the endpoint drained its queue.</summary>
    public void FlushAck()
    {
        lock (_gate)
        {
            if (_ackPending && State != TcpState.Closed)
            {
                SendAck();
            }
        }
    }

    private void Fail(NetworkFailure failure, string message)
    {
        if (State == TcpState.Closed && _failure is not null)
        {
            return;
        }

        _failure ??= failure == NetworkFailure.None ? null : new NetworkException(failure, message);
        if (State == TcpState.SynReceived)
        {
            Listener?.HalfOpenFailed();
        }

        State = TcpState.Closed;
        _timerMode = TimerMode.None;
        _timer.Change(Timeout.Infinite, Timeout.Infinite);
        if (_failure is not null)
        {
            _connected.TrySetException(_failure);
        }
        else
        {
            _connected.TrySetResult();
        }

        SignalReadable();
        SignalWritable();
        _endpoint.RemoveConnection(this);
        Dispose();
    }

    /// <summary>Releases the timer (the connection is closed by then).</summary>
    public void Dispose() => _timer.Dispose();

    private void SignalReadable()
    {
        var r = _readable;
        _readable = null;
        r?.TrySetResult();
    }

    private void SignalWritable()
    {
        var w = _writable;
        _writable = null;
        w?.TrySetResult();
    }

    /// <summary>The connection's sequence state, for diagnostics and tests.</summary>
    public override string ToString()
    {
        lock (_gate)
        {
            return $"{State} {Peer}: snd.una {_sndUna - _iss} nxt {_sndNxt - _iss} wnd {_sndWnd} cwnd {_cwnd} ssthresh {_ssthresh} sendbuf {_send.Count} fin {_finSent}/{_finAcked} timer {_timerMode} rto {CurrentRto()} retries {_retries}; rcv.nxt {_rcvNxt - _irs} recvbuf {_recv.Count} ooo {_outOfOrder.Count} fin {_finReceived}";
        }
    }

    /// <summary>Moves SND.NXT on; SND.MAX remembers the highest sent, which ACKs may cover after a go-back.</summary>
    private void AdvanceSent(uint count)
    {
        _sndNxt += count;
        if (SeqGt(_sndNxt, _sndMax))
        {
            _sndMax = _sndNxt;
        }
    }

    private static bool SeqLt(uint a, uint b) => (int)(a - b) < 0;

    private static bool SeqLe(uint a, uint b) => (int)(a - b) <= 0;

    private static bool SeqGt(uint a, uint b) => (int)(a - b) > 0;

    private static bool SeqGe(uint a, uint b) => (int)(a - b) >= 0;
}
