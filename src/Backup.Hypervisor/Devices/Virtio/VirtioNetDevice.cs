using System.Buffers.Binary;
using Backup.Hypervisor.Snapshots;
using Backup.Network.Ethernet;

namespace Backup.Hypervisor.Devices.Virtio;

/// <summary>
/// The virtio network device (device ID 1; virtio 1.x section 5.1) plugged into an <see cref="INetworkLink"/>. Queue 0
/// is the receiveq, queue 1 the transmitq; there is no control queue. Offered: MAC, STATUS (link up/down from the
/// link, with a configuration-change interrupt when it changes), MTU (1500), CSUM + GUEST_CSUM, HOST_TSO4/6 +
/// GUEST_TSO4/6 and MRG_RXBUF. Offloads pass through <see cref="FrameOffload"/>: a transmitted super-frame or partial
/// checksum goes into the network as the guest left it, and the link is told (<see cref="INetworkLink.AcceptedOffloads"/>)
/// which of them the driver takes on receive, so the network finishes frames only for NICs that cannot.
/// <para>
/// Hostile guests: every transmit chain is validated (header present, device-readable only, inside RAM, frame length
/// 14..<see cref="FrameLimits.MaximumLength"/>, or up to <see cref="FrameLimits.MaximumSuperFrameLength"/> for a
/// super-frame whose segmentation was negotiated, offload fields inside the frame). A bad chain is completed with
/// length 0, reported through <see cref="Virtqueue.ReportError"/> and counted; the queue stays usable. One notify
/// processes at most the queue's size of chains. Received frames wait in the link's bounded queue until the driver
/// posts buffers; a frame larger than the buffers a driver posts (without MRG_RXBUF) is dropped and counted.
/// </para>
/// <para>
/// All queue work happens on the VM thread: the link's notifier only raises a flag and wakes the VM, and
/// <see cref="VirtioNetPoller"/> then services the receive queue. State section "virtio-net&lt;i&gt;" (the MAC, the
/// negotiated features and the link status last reported); frames still queued in the network are not part of the VM.
/// </para>
/// </summary>
public sealed partial class VirtioNetDevice : IVirtioDeviceBackend, IDeviceState
{
    /// <summary>Virtio device ID of a network card.</summary>
    public const uint NetDeviceId = 1;

    /// <summary>Size of each queue.</summary>
    public const ushort QueueSize = 256;

    internal const int ReceiveQueue = 0;
    internal const int TransmitQueue = 1;

    private readonly INetworkLink _link;
    private readonly Action? _wake;
    private readonly ulong _offered;
    private readonly byte[] _frame = new byte[FrameLimits.MaximumSuperFrameLength];
    private volatile bool _receiveSignalled;
    private ulong _features;
    private bool _active;
    private bool _linkUp;

    /// <param name="mac">The card's address (reported in the configuration space).</param>
    /// <param name="link">The network port the card is plugged into; the device sets its notifier.</param>
    /// <param name="name">Names the device in its state section ("virtio-net0").</param>
    /// <param name="wake">Called (from any thread) when frames arrive or the link changes, to wake the VM thread.</param>
    /// <param name="offeredFeatures">
    /// The features offered: <see cref="VirtioNetFeatures.Offered"/> or a subset that keeps MAC and STATUS (a NIC without
    /// offloads, or without MRG_RXBUF).
    /// </param>
    public VirtioNetDevice(MacAddress mac, INetworkLink link, string name = "virtio-net0", Action? wake = null,
        ulong offeredFeatures = VirtioNetFeatures.Offered)
    {
        ArgumentNullException.ThrowIfNull(link);
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (mac.IsMulticast || (mac.Value >> 48) != 0 || mac.Value == 0)
        {
            throw new ArgumentException($"NIC address {mac} is not a unicast MAC address", nameof(mac));
        }

        const ulong required = VirtioNetFeatures.Mac | VirtioNetFeatures.Status;
        if ((offeredFeatures & ~VirtioNetFeatures.Offered) != 0 || (offeredFeatures & required) != required)
        {
            throw new ArgumentException($"features 0x{offeredFeatures:x} are not a subset of 0x{VirtioNetFeatures.Offered:x} that includes MAC and STATUS", nameof(offeredFeatures));
        }

        Mac = mac;
        _offered = offeredFeatures;
        _link = link;
        _wake = wake;
        StateName = name;
        _linkUp = link.IsUp;
        link.AcceptedOffloads = OffloadCapabilities.None;
        link.SetNotifier(OnLinkEvent);
    }

    /// <summary>The card's MAC address.</summary>
    public MacAddress Mac { get; }

    /// <summary>The link the card is plugged into.</summary>
    public INetworkLink Link => _link;

    /// <summary>Features the driver negotiated (0 until DRIVER_OK).</summary>
    public ulong NegotiatedFeatures => _features;

    /// <summary>The link status the guest was last told (configuration space status, VIRTIO_NET_S_LINK_UP).</summary>
    public bool ReportedLinkUp => _linkUp;

    /// <inheritdoc />
    public uint DeviceId => NetDeviceId;

    /// <inheritdoc />
    public ulong DeviceFeatures => _offered;

    /// <inheritdoc />
    public int QueueCount => 2;

    /// <inheritdoc />
    public int ConfigSize => VirtioNetFeatures.ConfigLength;

    /// <summary>True when frames may be waiting on the link (set by the link's notifier, cleared by <see cref="TakeReceiveSignal"/>).</summary>
    internal bool ReceiveSignalled => _receiveSignalled;

    /// <inheritdoc />
    public ushort GetQueueMaxSize(int queueIndex) => QueueSize;

    /// <inheritdoc />
    public void ReadConfig(int offset, Span<byte> destination)
    {
        Span<byte> config = stackalloc byte[VirtioNetFeatures.ConfigLength];
        Mac.Write(config);
        BinaryPrimitives.WriteUInt16LittleEndian(config[6..], _linkUp ? VirtioNetFeatures.LinkUp : (ushort)0);
        BinaryPrimitives.WriteUInt16LittleEndian(config[8..], 1); // max_virtqueue_pairs (only valid with MQ, which is not offered)
        BinaryPrimitives.WriteUInt16LittleEndian(config[10..], VirtioNetFeatures.DefaultMtu);
        config.Slice(offset, destination.Length).CopyTo(destination);
    }

    /// <inheritdoc />
    public void WriteConfig(int offset, ReadOnlySpan<byte> data)
    {
        // The MAC is writable only by legacy drivers without VIRTIO_NET_F_CTRL_MAC_ADDR; a VERSION_1 driver may not write.
    }

    /// <inheritdoc />
    public void Activate(ulong negotiatedFeatures)
    {
        _features = negotiatedFeatures;
        _active = true;
        _link.AcceptedOffloads = AcceptedOffloadsFor(negotiatedFeatures);
        _receiveSignalled = true; // frames may have queued while the driver was not ready
    }

    /// <inheritdoc />
    public void Reset()
    {
        _features = 0;
        _active = false;
        _link.AcceptedOffloads = OffloadCapabilities.None;
    }

    /// <inheritdoc />
    public void ProcessQueue(Virtqueue queue)
    {
        ArgumentNullException.ThrowIfNull(queue);
        if (queue.Index == TransmitQueue)
        {
            Transmit(queue);
        }
        else if (queue.Index == ReceiveQueue)
        {
            Receive(queue);
        }
    }

    /// <summary>What the driver's negotiated features let it complete on receive.</summary>
    public static OffloadCapabilities AcceptedOffloadsFor(ulong features)
    {
        if ((features & VirtioNetFeatures.GuestChecksum) == 0)
        {
            return OffloadCapabilities.None; // GUEST_TSO4/6 require GUEST_CSUM (section 5.1.3.1)
        }

        var accepted = OffloadCapabilities.Checksum;
        if ((features & VirtioNetFeatures.GuestTso4) != 0)
        {
            accepted |= OffloadCapabilities.TcpV4Segmentation;
        }

        if ((features & VirtioNetFeatures.GuestTso6) != 0)
        {
            accepted |= OffloadCapabilities.TcpV6Segmentation;
        }

        return accepted;
    }

    /// <summary>
    /// On the VM thread: takes the link's current status. True when the driver (STATUS negotiated, device live) must
    /// be told with a configuration-change interrupt because it changed since the last report.
    /// </summary>
    internal bool TakeLinkChange()
    {
        bool up = _link.IsUp;
        if (up == _linkUp)
        {
            return false;
        }

        _linkUp = up;
        return _active && (_features & VirtioNetFeatures.Status) != 0;
    }

    /// <summary>Clears and returns the receive flag (the poller then services the receive queue).</summary>
    internal bool TakeReceiveSignal()
    {
        if (!_receiveSignalled)
        {
            return false;
        }

        _receiveSignalled = false;
        return true;
    }

    private void OnLinkEvent()
    {
        _receiveSignalled = true;
        _wake?.Invoke();
    }

    /// <inheritdoc />
    public string StateName { get; }

    /// <inheritdoc />
    public int StateVersion => 1;

    /// <inheritdoc />
    public void SaveState(StateWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteU64(Mac.Value);
        writer.WriteU64(_features);
        writer.WriteBool(_active);
        writer.WriteBool(_linkUp);
    }

    /// <inheritdoc />
    public void RestoreState(StateReader reader, int version)
    {
        ArgumentNullException.ThrowIfNull(reader);
        reader.RequireVersion(version, 1);
        var mac = new MacAddress(reader.ReadU64());
        ulong features = reader.ReadU64();
        bool active = reader.ReadBool();
        bool linkUp = reader.ReadBool();
        reader.ExpectEnd();
        if (mac != Mac)
        {
            throw reader.Fail($"the checkpoint's NIC has MAC address {mac}, but this machine's {StateName} is configured with {Mac}: give the NIC its saved address");
        }

        if ((features & ~(_offered | VirtioFeatures.Version1 | VirtioFeatures.RingIndirectDescriptors)) != 0)
        {
            throw reader.Fail($"saved features 0x{features:x} include bits this device never offers");
        }

        _features = features;
        _active = active;
        _linkUp = linkUp;
        _link.AcceptedOffloads = active ? AcceptedOffloadsFor(features) : OffloadCapabilities.None;
        _receiveSignalled = true;
    }
}
