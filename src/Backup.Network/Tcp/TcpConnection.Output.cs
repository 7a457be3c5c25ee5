using System.Buffers;
using System.Buffers.Binary;
using Backup.Network.Endpoint;
using Backup.Network.Ethernet;
using Backup.Network.Protocols;

namespace Backup.Network.Tcp;

internal sealed partial class TcpConnection
{
    private const int HeadersLength = 34 + 20;

    /// <summary>Sends what the windows allow: new data (super-frames of whole MSS when offloads are on), then the FIN.</summary>
    private void TrySend()
    {
        if (State is not (TcpState.Established or TcpState.CloseWait or TcpState.FinWait1 or TcpState.LastAck or TcpState.Closing))
        {
            return;
        }

        int maxChunk = _endpoint.Options.UseOffloads ? (65535 - 40) / _mss * _mss : _mss;
        while (!_finSent)
        {
            int flight = (int)Flight;
            int unsent = _send.Count - flight;
            if (unsent > 0)
            {
                long usable = Math.Min(_sndWnd, _cwnd) - flight;
                if (usable <= 0)
                {
                    if (_sndWnd == 0 && flight == 0 && _timerMode != TimerMode.Persist)
                    {
                        Arm(TimerMode.Persist, CurrentRto());
                    }

                    return;
                }

                int length = (int)Math.Min(Math.Min(unsent, usable), maxChunk);
                if (length < _mss && length < unsent && flight > 0)
                {
                    return; // sender-side silly-window avoidance: wait for the window to open
                }

                Emit(_sndNxt, (byte)(TcpHeader.AckFlag | (length == unsent ? TcpHeader.Psh : 0)), flight, length);
                if (!_timing)
                {
                    _timing = true;
                    _rttSeq = _sndNxt + (uint)length;
                    _rttStart = Environment.TickCount64;
                }

                AdvanceSent((uint)length);
                ArmRetransmitIfIdle();
            }
            else if (_writeClosed)
            {
                _finSeq = _sndNxt;
                Emit(_sndNxt, TcpHeader.AckFlag | TcpHeader.Fin, flight, 0);
                AdvanceSent(1);
                _finSent = true;
                _finEverSent = true;
                State = State switch
                {
                    TcpState.Established => TcpState.FinWait1,
                    TcpState.CloseWait => TcpState.LastAck,
                    _ => State,
                };
                ArmRetransmitIfIdle();
            }
            else
            {
                return;
            }
        }
    }

    private void ArmRetransmitIfIdle()
    {
        if (_timerMode != TimerMode.Retransmit)
        {
            Arm(TimerMode.Retransmit, CurrentRto());
        }
    }

    private void OnNewAck(int acked)
    {
        _dupAcks = 0;
        if (_inRecovery)
        {
            if (SeqGe(_sndUna, _recover))
            {
                _inRecovery = false;
                _cwnd = _ssthresh;
            }
            else
            {
                RetransmitFirst(); // NewReno partial ACK: the next hole
                _cwnd = Math.Max(_cwnd - acked + _mss, _mss);
            }

            return;
        }

        _cwnd += _cwnd < _ssthresh ? acked : Math.Max(1, (long)_mss * acked / _cwnd);
        _cwnd = Math.Min(_cwnd, 64L << 20);
    }

    private void OnDuplicateAck()
    {
        _dupAcks++;
        if (_inRecovery)
        {
            _cwnd += _mss;
            return;
        }

        if (_dupAcks == 3)
        {
            _ssthresh = Math.Max(Flight / 2, 2L * _mss);
            _recover = _sndNxt;
            _inRecovery = true;
            RetransmitFirst();
            _cwnd = _ssthresh + (3L * _mss);
        }
    }

    private void RetransmitFirst()
    {
        int data = (int)Math.Min(Math.Min(Flight, _send.Count), _mss);
        bool fin = _finSent && !_finAcked && _sndUna + (uint)data == _finSeq;
        if (data == 0 && !fin)
        {
            return;
        }

        Interlocked.Increment(ref _endpoint.Statistics._tcpRetransmissions);
        _timing = false;
        Emit(_sndUna, (byte)(TcpHeader.AckFlag | (fin ? TcpHeader.Fin : 0)), 0, data);
    }

    private void SampleRtt(long ms)
    {
        double r = Math.Max(ms, 1);
        if (_srtt < 0)
        {
            _srtt = r;
            _rttvar = r / 2;
        }
        else
        {
            _rttvar = (0.75 * _rttvar) + (0.25 * Math.Abs(_srtt - r));
            _srtt = (0.875 * _srtt) + (0.125 * r);
        }

        _rtoMs = (int)Math.Clamp(_srtt + Math.Max(10, 4 * _rttvar), MinRtoMs, MaxRtoMs);
    }

    private int CurrentRto() => (int)Math.Min((long)_rtoMs << Math.Min(_backoff, 16), MaxRtoMs);

    private void Arm(TimerMode mode, int milliseconds)
    {
        if (State == TcpState.Closed)
        {
            return;
        }

        _timerMode = mode;
        _timer.Change(mode == TimerMode.None ? Timeout.Infinite : milliseconds, Timeout.Infinite);
    }

    private void OnTimer()
    {
        lock (_gate)
        {
            var mode = _timerMode;
            _timerMode = TimerMode.None;
            switch (mode)
            {
                case TimerMode.Retransmit:
                    OnRetransmitTimeout();
                    break;
                case TimerMode.Persist:
                    OnPersistTimeout();
                    break;
                case TimerMode.TimeWait:
                    Fail(NetworkFailure.None, "closed");
                    break;
                case TimerMode.FinWait2:
                    Fail(NetworkFailure.Timeout, $"{Peer} never closed its side");
                    break;
            }
        }
    }

    private void OnRetransmitTimeout()
    {
        if (State == TcpState.Closed)
        {
            return;
        }

        if (++_retries > MaxRetries)
        {
            SendReset();
            Fail(NetworkFailure.Timeout, $"{Peer} stopped acknowledging ({MaxRetries} retransmissions)");
            return;
        }

        _backoff++;
        _timing = false;
        Interlocked.Increment(ref _endpoint.Statistics._tcpRetransmissions);
        if (State is TcpState.SynSent or TcpState.SynReceived)
        {
            SendSyn(ack: State == TcpState.SynReceived);
            Arm(TimerMode.Retransmit, CurrentRto());
            return;
        }

        if (Flight == 0)
        {
            TrySend();
            return;
        }

        _ssthresh = Math.Max(Flight / 2, 2L * _mss);
        _cwnd = _mss;
        _inRecovery = false;
        _dupAcks = 0;
        _sndNxt = _sndUna; // go back: resend from the first unacknowledged byte
        if (!_finAcked)
        {
            _finSent = false;
        }

        TrySend();
        ArmRetransmitIfIdle();
    }

    private void OnPersistTimeout()
    {
        int unsent = _send.Count - (int)Flight;
        if (State == TcpState.Closed || unsent <= 0 || Flight != 0)
        {
            TrySend();
            return;
        }

        if (_sndWnd > 0)
        {
            TrySend();
            return;
        }

        // zero-window probe: one byte beyond the window; its ACK carries the peer's current window
        _backoff++;
        Emit(_sndNxt, TcpHeader.AckFlag, 0, 1);
        AdvanceSent(1);
        Arm(TimerMode.Retransmit, CurrentRto());
    }

    private void MaybeSendWindowUpdate()
    {
        if (State is TcpState.Closed or TcpState.SynSent or TcpState.SynReceived)
        {
            return;
        }

        long right = (long)_rcvNxt + ReceiveWindow();
        long threshold = Math.Min(_recv.Capacity / 2, 2L * _mss);
        if (right - _advertisedRight >= threshold)
        {
            SendAck();
        }
    }

    private void SendAck() => Emit(_sndNxt, TcpHeader.AckFlag, -1, 0);

    private void SendReset() => Emit(_sndNxt, TcpHeader.Rst | TcpHeader.AckFlag, -1, 0);

    private void SendReset(uint seq) => Emit(seq, TcpHeader.Rst, -1, 0);

    private void SendSyn(bool ack)
    {
        _rttStart = Environment.TickCount64;
        Emit(_iss, (byte)(TcpHeader.Syn | (ack ? TcpHeader.AckFlag : 0)), -1, 0);
    }

    /// <summary>Builds and sends one segment; <paramref name="dataOffset"/> is where its data starts in the send buffer.</summary>
    private void Emit(uint seq, byte flags, int dataOffset, int length)
    {
        bool syn = (flags & TcpHeader.Syn) != 0;
        bool offerScale = syn && (State == TcpState.SynSent || _peerScales);
        int optionsLength = syn ? 8 : 0;
        int tcpLength = 20 + optionsLength + length;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(34 + tcpLength);
        try
        {
            var frame = buffer.AsSpan(0, 34 + tcpLength);
            _endpoint.WriteHeaders(frame, RemoteMac, Key.RemoteIp, EtherTypes.Tcp, tcpLength);
            var tcp = frame[34..];
            long window = syn ? Math.Min(ReceiveWindow(), 65535) : Math.Min(ReceiveWindow() >> _rcvShift, 65535);
            bool ack = (flags & TcpHeader.AckFlag) != 0;
            BinaryPrimitives.WriteUInt16BigEndian(tcp, Key.LocalPort);
            BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], Key.RemotePort);
            BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], seq);
            BinaryPrimitives.WriteUInt32BigEndian(tcp[8..], ack ? _rcvNxt : 0);
            tcp[12] = (byte)((20 + optionsLength) / 4 << 4);
            tcp[13] = flags;
            BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], (ushort)window);
            BinaryPrimitives.WriteUInt32BigEndian(tcp[16..], 0); // checksum and urgent pointer
            if (syn)
            {
                tcp[20] = 2;
                tcp[21] = 4;
                BinaryPrimitives.WriteUInt16BigEndian(tcp[22..], OurMss);
                tcp[24] = 1;
                tcp[25] = offerScale ? (byte)3 : (byte)1;
                tcp[26] = offerScale ? (byte)3 : (byte)1;
                tcp[27] = offerScale ? (byte)_ourScale : (byte)1;
            }

            if (length > 0)
            {
                _send.Peek(dataOffset, tcp.Slice(20 + optionsLength, length));
            }

            if (ack)
            {
                _advertisedRight = (long)_rcvNxt + (syn ? window : window << _rcvShift);
                _ackPending = false;
            }

            ulong pseudo = InternetChecksum.PseudoHeaderV4(frame[26..], frame[30..], EtherTypes.Tcp, tcpLength);
            FrameOffload offload = FrameOffload.None;
            if (_endpoint.Options.UseOffloads && length > 0)
            {
                BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], InternetChecksum.Fold(pseudo));
                offload = new FrameOffload(true, 34, 16, length > _mss ? SegmentationKind.TcpV4 : SegmentationKind.None,
                    (ushort)_mss, (ushort)(HeadersLength + optionsLength));
            }
            else
            {
                BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], InternetChecksum.Compute(tcp, pseudo));
            }

            if ((flags & TcpHeader.Rst) != 0)
            {
                Interlocked.Increment(ref _endpoint.Statistics._tcpResetsSent);
            }

            _endpoint.Send(frame, offload);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
