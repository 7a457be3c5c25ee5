using Backup.Network.Endpoint;

namespace Backup.Network.Tcp;

internal sealed partial class TcpConnection
{
    private const int MaxOutOfOrderSegments = 256;
    private readonly List<(uint Seq, byte[] Data)> _outOfOrder = [];
    private long _outOfOrderBytes;

    /// <summary>Active open: sends the SYN.</summary>
    public void StartConnect()
    {
        lock (_gate)
        {
            State = TcpState.SynSent;
            _rcvShift = _ourScale;
            _sndNxt = _iss + 1;
            _sndMax = _sndNxt;
            SendSyn(ack: false);
            Arm(TimerMode.Retransmit, _rtoMs);
        }
    }

    /// <summary>Passive open: a SYN arrived for a listener; sends the SYN-ACK.</summary>
    public void StartAccept(in TcpHeader syn)
    {
        lock (_gate)
        {
            State = TcpState.SynReceived;
            _irs = syn.Seq;
            _rcvNxt = syn.Seq + 1;
            ApplySynOptions(syn);
            _sndWnd = syn.Window;
            _wl1 = syn.Seq;
            _wl2 = _iss;
            _sndNxt = _iss + 1;
            _sndMax = _sndNxt;
            SendSyn(ack: true);
            Arm(TimerMode.Retransmit, _rtoMs);
        }
    }

    /// <summary>Gives up a connection attempt that timed out (no RST: the peer never answered).</summary>
    public void Abandon(NetworkFailure failure, string message)
    {
        lock (_gate)
        {
            if (State is TcpState.SynSent or TcpState.SynReceived)
            {
                Fail(failure, message);
            }
        }
    }

    public void OnSegment(in TcpHeader h, ReadOnlySpan<byte> payload)
    {
        lock (_gate)
        {
            if (State == TcpState.Closed)
            {
                return;
            }

            if (State == TcpState.SynSent)
            {
                OnSynSent(h);
                return;
            }

            if (State == TcpState.SynReceived && h.IsSyn && !h.IsAck && h.Seq == _irs)
            {
                SendSyn(ack: true); // our SYN-ACK was lost
                return;
            }

            int length = payload.Length + (h.IsSyn ? 1 : 0) + (h.IsFin ? 1 : 0);
            if (!Acceptable(h.Seq, length))
            {
                if (!h.IsRst)
                {
                    if (h.IsAck && h.Seq == _rcvNxt && State != TcpState.SynReceived)
                    {
                        ProcessAck(h, payload.Length); // a zero window still takes ACKs
                    }

                    SendAck();
                }

                return;
            }

            if (h.IsRst)
            {
                if (h.Seq == _rcvNxt)
                {
                    Fail(State == TcpState.SynReceived ? NetworkFailure.Refused : NetworkFailure.Reset, $"connection reset by {Peer}");
                }
                else
                {
                    SendAck(); // RFC 5961 challenge ACK
                }

                return;
            }

            if (h.IsSyn || !h.IsAck)
            {
                if (h.IsSyn)
                {
                    SendAck();
                }

                return;
            }

            if (State == TcpState.SynReceived && !CompletePassiveOpen(h))
            {
                return;
            }

            if (!ProcessAck(h, payload.Length))
            {
                return;
            }

            if (payload.Length > 0)
            {
                ProcessData(h.Seq, payload);
            }

            if (h.IsFin)
            {
                ProcessFin(h.Seq + (uint)payload.Length);
            }

            TrySend();
        }
    }

    private bool CompletePassiveOpen(in TcpHeader h)
    {
        if (h.Ack != _iss + 1)
        {
            SendReset(h.Ack);
            return false;
        }

        State = TcpState.Established;
        _sndUna = h.Ack;
        _sndWnd = (long)h.Window << _sndShift;
        _wl1 = h.Seq;
        _wl2 = h.Ack;
        _retries = 0;
        _backoff = 0;
        _timerMode = TimerMode.None;
        _timer.Change(Timeout.Infinite, Timeout.Infinite);
        _cwnd = 10L * _mss;
        _connected.TrySetResult();
        Listener?.Established(this);
        return true;
    }

    private void OnSynSent(in TcpHeader h)
    {
        if (h.IsAck && (SeqLe(h.Ack, _iss) || SeqGt(h.Ack, _sndNxt)))
        {
            if (!h.IsRst)
            {
                SendReset(h.Ack);
            }

            return;
        }

        if (h.IsRst)
        {
            if (h.IsAck)
            {
                Fail(NetworkFailure.Refused, $"connection refused by {Peer}");
            }

            return;
        }

        if (!h.IsSyn || !h.IsAck)
        {
            return; // simultaneous open is not supported: the peer's SYN-ACK or a retransmission settles it
        }

        _irs = h.Seq;
        _rcvNxt = h.Seq + 1;
        ApplySynOptions(h);
        _sndUna = h.Ack;
        _sndWnd = h.Window;
        _wl1 = h.Seq;
        _wl2 = h.Ack;
        if (_retries == 0)
        {
            SampleRtt(Environment.TickCount64 - _rttStart);
        }

        _retries = 0;
        _backoff = 0;
        _cwnd = 10L * _mss;
        State = TcpState.Established;
        _timerMode = TimerMode.None;
        _timer.Change(Timeout.Infinite, Timeout.Infinite);
        SendAck();
        _connected.TrySetResult();
    }

    private void ApplySynOptions(in TcpHeader syn)
    {
        _mss = Math.Clamp(syn.Mss < 0 ? 536 : syn.Mss, 64, OurMss);
        _peerScales = syn.WindowScale >= 0;
        if (_peerScales)
        {
            _sndShift = syn.WindowScale;
            _rcvShift = _ourScale;
        }
        else
        {
            _sndShift = 0;
            _rcvShift = 0;
        }
    }

    private bool Acceptable(uint seq, int length)
    {
        long window = ReceiveWindow();
        if (length == 0)
        {
            return window == 0 ? seq == _rcvNxt : InWindow(seq, window);
        }

        return window > 0 && (InWindow(seq, window) || InWindow(seq + (uint)length - 1, window));
    }

    private bool InWindow(uint seq, long window) => SeqLe(_rcvNxt, seq) && (uint)(seq - _rcvNxt) < window;

    private long ReceiveWindow()
    {
        long free = _appClosed ? _recv.Capacity : _recv.Free;
        return Math.Min(free, 65535L << _rcvShift);
    }

    private bool ProcessAck(in TcpHeader h, int payloadLength)
    {
        uint ack = h.Ack;
        if (SeqGt(ack, _sndMax))
        {
            SendAck();
            return false;
        }

        if (SeqGt(ack, _sndNxt))
        {
            _sndNxt = ack; // the peer had what a go-back would resend
            if (_finEverSent && SeqGt(ack, _finSeq))
            {
                _finSent = true;
            }
        }

        long window = (long)h.Window << _sndShift;
        bool windowChanged = window != _sndWnd;
        if (SeqGt(ack, _sndUna))
        {
            int acked = (int)(uint)(ack - _sndUna);
            int data = Math.Min(acked, _send.Count);
            _send.Discard(data);
            _sndUna = ack;
            if (_finEverSent && SeqGt(ack, _finSeq))
            {
                _finAcked = true;
            }

            _retries = 0;
            _backoff = 0;
            if (_timing && SeqGe(ack, _rttSeq))
            {
                _timing = false;
                SampleRtt(Environment.TickCount64 - _rttStart);
            }

            OnNewAck(acked);
            if (data > 0 && _send.Free >= Math.Min(_send.Capacity / 4, 256 * 1024))
            {
                SignalWritable(); // a writer waits for a useful amount of room, not for each ACK's few kilobytes
            }

            if (Flight > 0)
            {
                Arm(TimerMode.Retransmit, CurrentRto());
            }
            else if (_timerMode == TimerMode.Retransmit)
            {
                Arm(TimerMode.None, Timeout.Infinite);
            }
        }
        else if (ack == _sndUna && payloadLength == 0 && !h.IsFin && !windowChanged && Flight > 0)
        {
            OnDuplicateAck();
        }

        if (SeqLt(_wl1, h.Seq) || (_wl1 == h.Seq && SeqLe(_wl2, ack)))
        {
            _sndWnd = window;
            _wl1 = h.Seq;
            _wl2 = ack;
        }

        return AdvanceClosingStates();
    }

    private bool AdvanceClosingStates()
    {
        if (!_finAcked)
        {
            return true;
        }

        switch (State)
        {
            case TcpState.FinWait1:
                State = TcpState.FinWait2;
                if (_appClosed)
                {
                    Arm(TimerMode.FinWait2, 60_000);
                }

                return true;
            case TcpState.Closing:
                EnterTimeWait();
                return false;
            case TcpState.LastAck:
                Fail(NetworkFailure.None, "closed");
                return false;
            default:
                return true;
        }
    }

    private void ProcessData(uint seq, ReadOnlySpan<byte> payload)
    {
        if (State is not (TcpState.Established or TcpState.FinWait1 or TcpState.FinWait2))
        {
            return;
        }

        int skip = SeqLt(seq, _rcvNxt) ? (int)(_rcvNxt - seq) : 0;
        if (skip >= payload.Length)
        {
            SendAck(); // a duplicate
            return;
        }

        if (skip == 0 && seq != _rcvNxt)
        {
            StoreOutOfOrder(seq, payload);
            SendAck(); // the duplicate ACK the sender counts for fast retransmit
            return;
        }

        var data = payload[skip..];
        int taken = _appClosed ? data.Length : _recv.Write(data);
        _rcvNxt += (uint)taken;
        bool filledHole = _outOfOrder.Count > 0;
        PullOutOfOrder();
        if (taken > 0)
        {
            SignalReadable();
        }

        if (filledHole)
        {
            SendAck();
        }
        else
        {
            _ackPending = true;
            _endpoint.AckLater(this);
        }
    }

    private void StoreOutOfOrder(uint seq, ReadOnlySpan<byte> payload)
    {
        Interlocked.Increment(ref _endpoint.Statistics._tcpOutOfOrder);
        long window = ReceiveWindow();
        if (_outOfOrder.Count >= MaxOutOfOrderSegments || (uint)(seq - _rcvNxt) + payload.Length > window
            || _outOfOrderBytes + payload.Length > window || _outOfOrder.Exists(s => s.Seq == seq))
        {
            return;
        }

        int index = _outOfOrder.FindIndex(s => SeqGt(s.Seq, seq));
        _outOfOrder.Insert(index < 0 ? _outOfOrder.Count : index, (seq, payload.ToArray()));
        _outOfOrderBytes += payload.Length;
    }

    private void PullOutOfOrder()
    {
        while (_outOfOrder.Count > 0 && SeqLe(_outOfOrder[0].Seq, _rcvNxt))
        {
            var (seq, data) = _outOfOrder[0];
            _outOfOrder.RemoveAt(0);
            _outOfOrderBytes -= data.Length;
            uint end = seq + (uint)data.Length;
            if (SeqGt(end, _rcvNxt))
            {
                var tail = data.AsSpan((int)(_rcvNxt - seq));
                int taken = _appClosed ? tail.Length : _recv.Write(tail);
                _rcvNxt += (uint)taken;
                if (taken < tail.Length)
                {
                    break;
                }
            }
        }
    }

    private void ProcessFin(uint finSeq)
    {
        if (finSeq != _rcvNxt)
        {
            return; // data before it is missing: the peer sends the FIN again
        }

        if (State is not (TcpState.Established or TcpState.FinWait1 or TcpState.FinWait2))
        {
            SendAck();
            return;
        }

        _rcvNxt++;
        _finReceived = true;
        SignalReadable();
        SendAck();
        switch (State)
        {
            case TcpState.Established:
                State = TcpState.CloseWait;
                break;
            case TcpState.FinWait1:
                State = TcpState.Closing;
                break;
            case TcpState.FinWait2:
                EnterTimeWait();
                break;
        }
    }

    private void EnterTimeWait()
    {
        State = TcpState.TimeWait;
        SignalReadable();
        SignalWritable();
        Arm(TimerMode.TimeWait, (int)_endpoint.Options.TcpTimeWait.TotalMilliseconds);
    }
}
