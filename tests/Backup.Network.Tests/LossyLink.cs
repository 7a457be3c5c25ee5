using Backup.Network.Ethernet;

namespace Backup.Network.Tests;

/// <summary>
/// A link between a sender and its real switch port that drops and reorders the frames sent through it (seeded, so a
/// failure reproduces). Reordering holds a frame back and sends it after the next one.
/// </summary>
internal sealed class LossyLink(INetworkLink inner, int seed, double dropRate, double reorderRate) : INetworkLink
{
    private readonly Random _random = new(seed);
    private readonly Lock _gate = new();
    private (byte[] Frame, FrameOffload Offload)? _held;

    public int Dropped { get; private set; }

    public int Reordered { get; private set; }

    public bool IsUp => inner.IsUp;

    public OffloadCapabilities AcceptedOffloads
    {
        get => inner.AcceptedOffloads;
        set => inner.AcceptedOffloads = value;
    }

    public bool Transmit(ReadOnlySpan<byte> frame, in FrameOffload offload)
    {
        lock (_gate)
        {
            double roll = _random.NextDouble();
            if (roll < dropRate)
            {
                Dropped++;
                return true;
            }

            if (roll < dropRate + reorderRate && _held is null)
            {
                Reordered++;
                _held = (frame.ToArray(), offload);
                return true;
            }

            bool sent = inner.Transmit(frame, offload);
            if (_held is { } held)
            {
                _held = null;
                inner.Transmit(held.Frame, held.Offload);
            }

            return sent;
        }
    }

    public bool TryReceive(Span<byte> destination, out int length, out FrameOffload offload) => inner.TryReceive(destination, out length, out offload);

    public int PeekLength() => inner.PeekLength();

    public void SetNotifier(Action? notify) => inner.SetNotifier(notify);

    public void Dispose() => inner.Dispose();
}
