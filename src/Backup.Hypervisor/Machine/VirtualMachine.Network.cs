using Backup.Hypervisor.Devices;
using Backup.Hypervisor.Devices.Virtio;
using Backup.Hypervisor.DeviceTree;

namespace Backup.Hypervisor.Machine;

/// <summary>
/// The VM's network cards (<see cref="VmConfiguration.Nics"/>): NIC i is a virtio-net device at
/// <see cref="NicBase"/> + i * 0x1000 with PLIC source <see cref="NicIrq"/> + i, plugged into its configured link.
/// Each has two state sections, its transport's ("virtio-net&lt;i&gt;") and the card's ("virtio-net&lt;i&gt;-nic": MAC,
/// negotiated features, link status last reported); both are required when the machine has the card. Frames queued
/// in the network at a checkpoint are not part of the VM: after a restore they are simply lost packets.
/// </summary>
public sealed partial class VirtualMachine
{
    /// <summary>Where NIC 0 sits (0x1000B000, irq 14, is the guest-agent virtio-serial device's).</summary>
    public const ulong NicBase = 0x1000_C000;

    /// <summary>NIC 0's PLIC source.</summary>
    public const uint NicIrq = 15;

    /// <summary>Most NICs a VM has.</summary>
    public const int MaxNics = 4;

    private readonly List<VirtioNetDevice> _nics = [];

    /// <summary>The VM's network cards, in configuration order (statistics: frames, bytes, drops by reason).</summary>
    public IReadOnlyList<VirtioNetDevice> Nics => _nics;

    /// <summary>Adds a virtio-mmio slot per configured NIC to <paramref name="description"/>.</summary>
    private static MachineDescription WithNics(MachineDescription description, int count) => count == 0 ? description : description with
    {
        VirtioSlots = [.. description.VirtioSlots, .. Enumerable.Range(0, count).Select(i => new VirtioMmioSlot(NicBase + ((ulong)i * 0x1000), NicIrq + (uint)i))],
    };

    /// <summary>Creates and attaches the configured NICs; returns their pollers.</summary>
    private IPolledDevice[] AttachNics(Plic plic)
    {
        var pollers = new List<IPolledDevice>();
        for (int i = 0; i < _config.Nics.Count; i++)
        {
            var nic = _config.Nics[i];
            ulong slotBase = NicBase + ((ulong)i * 0x1000);
            var slot = Description.VirtioSlots.Single(s => s.Base == slotBase);
            var device = new VirtioNetDevice(nic.Mac, nic.Link, $"virtio-net{i}-nic", WakeForNetwork, nic.OfferedFeatures);
            var transport = new VirtioMmioTransport(slot.Base, _ram, device, plic.GetLine((int)slot.Irq), OnDeviceError, $"virtio-net{i}");
            _bus.Attach(transport);
            _nics.Add(device);
            _stateParts.Add(transport);
            _stateParts.Add(device);
            pollers.Add(new VirtioNetPoller(transport, device));
        }

        return [.. pollers];
    }

    /// <summary>Runs on the network's threads: frames arrived or a link changed; the VM thread polls its NICs.</summary>
    private void WakeForNetwork()
    {
        try
        {
            _wake.Set();
        }
        catch (ObjectDisposedException)
        {
            // The VM is gone; its links were detached in Dispose, this call raced with that.
        }
    }

    /// <summary>Unplugs the NICs from their links (the links outlive the VM).</summary>
    private void DetachNics()
    {
        foreach (var nic in _nics)
        {
            nic.Link.SetNotifier(null);
            nic.Link.AcceptedOffloads = Network.Ethernet.OffloadCapabilities.None;
        }
    }
}
