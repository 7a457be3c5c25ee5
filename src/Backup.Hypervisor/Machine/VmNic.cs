using Backup.Hypervisor.Devices.Virtio;
using Backup.Network.Ethernet;

namespace Backup.Hypervisor.Machine;

/// <summary>
/// A network card of a VM: a virtio-net device with address <paramref name="Mac"/> plugged into
/// <paramref name="Link"/> (a virtual switch's port). The link is owned by the caller and outlives the VM.
/// <see cref="Offloads"/> off offers no checksum or segmentation offloads (the guest then sends and takes only finished
/// frames); <see cref="MergeableBuffers"/> off withholds VIRTIO_NET_F_MRG_RXBUF (Linux then posts 64 KiB buffers for
/// super-frames).
/// </summary>
public sealed record VmNic(MacAddress Mac, INetworkLink Link)
{
    /// <summary>Offer CSUM, GUEST_CSUM, HOST_TSO4/6 and GUEST_TSO4/6.</summary>
    public bool Offloads { get; init; } = true;

    /// <summary>Offer VIRTIO_NET_F_MRG_RXBUF.</summary>
    public bool MergeableBuffers { get; init; } = true;

    /// <summary>The virtio-net features this card offers.</summary>
    public ulong OfferedFeatures
    {
        get
        {
            ulong features = VirtioNetFeatures.Offered;
            if (!Offloads)
            {
                features &= ~(VirtioNetFeatures.Checksum | VirtioNetFeatures.GuestChecksum | VirtioNetFeatures.HostTso4
                    | VirtioNetFeatures.HostTso6 | VirtioNetFeatures.GuestTso4 | VirtioNetFeatures.GuestTso6);
            }

            if (!MergeableBuffers)
            {
                features &= ~VirtioNetFeatures.MergeableReceiveBuffers;
            }

            return features;
        }
    }
}
