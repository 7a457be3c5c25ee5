using Backup.Hypervisor.Agent;
using Backup.Hypervisor.Devices;
using Backup.Hypervisor.Devices.Virtio;
using Backup.Hypervisor.DeviceTree;

namespace Backup.Hypervisor.Machine;

/// <summary>
/// The standard QEMU guest agent's channel (<see cref="VmConfiguration.QemuGuestAgent"/>): a multiport virtio console
/// ("virtio-serial") with one port, <c>org.qemu.guest_agent.0</c>, whose host end is <see cref="QemuAgent"/>.
/// </summary>
public sealed partial class VirtualMachine
{
    /// <summary>Where the virtio-serial device sits, after the virtio console.</summary>
    public const ulong SerialBase = 0x1000_B000;

    /// <summary>The virtio-serial device's PLIC source (after the virtio console's 13).</summary>
    public const uint SerialIrq = 14;

    /// <summary>The name of the agent's port, as QEMU and qemu-ga name it.</summary>
    public const string QemuAgentPortName = "org.qemu.guest_agent.0";

    /// <summary>The agent's port id (port 0 is the console port by convention, as in QEMU).</summary>
    public const uint QemuAgentPortId = 1;

    private VirtioSerialDevice? _serial;

    /// <summary>The QEMU guest agent client, when <see cref="VmConfiguration.QemuGuestAgent"/> is set.</summary>
    public QemuGuestAgentClient? QemuAgent { get; private set; }

    /// <summary>The virtio-serial device carrying the agent's port, when <see cref="VmConfiguration.QemuGuestAgent"/> is set.</summary>
    public VirtioSerialDevice? Serial => _serial;

    /// <summary>Adds the virtio-serial slot to <paramref name="description"/> when the VM has the QEMU guest agent.</summary>
    private static MachineDescription WithQemuAgentSlot(MachineDescription description, bool qemuGuestAgent) => qemuGuestAgent
        ? description with { VirtioSlots = [.. description.VirtioSlots, new VirtioMmioSlot(SerialBase, SerialIrq)] }
        : description;

    /// <summary>
    /// Creates the virtio-serial device with the agent's port and its client; returns what needs polling (nothing
    /// without the agent). Its state sections are optional on restore: a checkpoint of a VM that lacked them comes from
    /// a guest that never saw the device, whose power-on state is then exact.
    /// </summary>
    private IPolledDevice[] AttachQemuAgent(Plic plic)
    {
        if (!_config.QemuGuestAgent)
        {
            return [];
        }

        VirtioSerialPort? port = null;
        var client = new QemuGuestAgentClient(
            bytes =>
            {
                port!.EnqueueInput(bytes);
                _wake.Set();
            },
            () => port!.DiscardPendingInput());
        port = new VirtioSerialPort(QemuAgentPortId, QemuAgentPortName, bytes => client.Receive(bytes));
        port.GuestConnectionChanged += _ => client.ConnectionChanged();
        _serial = new VirtioSerialDevice([port]);
        var slot = Description.VirtioSlots.Single(s => s.Base == SerialBase);
        var transport = new VirtioMmioTransport(slot.Base, _ram, _serial, plic.GetLine((int)slot.Irq), OnDeviceError, "virtio-serial");
        _bus.Attach(transport);
        foreach (var part in new Snapshots.IDeviceState[] { transport, _serial })
        {
            _stateParts.Add(part);
            _optionalStateParts.Add(part.StateName);
        }

        QemuAgent = client;
        return [new VirtioSerialPoller(transport, _serial)];
    }

    /// <summary>
    /// The application-consistent cut through qemu-ga: guest-sync-delimited, guest-fsfreeze-freeze (Debian's fsfreeze
    /// hook runs its hook.d scripts first, e.g. a database checkpoint), the cut, guest-fsfreeze-thaw. A freeze that is
    /// refused, hangs, or is answered with garbage gives a crash-consistent cut whose note says why; whenever the freeze
    /// request went out, a thaw follows the cut (the agent answers in order, so it also undoes a late freeze).
    /// </summary>
    private async Task<Snapshots.VmCheckpoint> CheckpointThroughQemuAgentAsync(QemuGuestAgentClient agent, string path, bool incremental, TimeSpan agentTimeout, CancellationToken cancellationToken)
    {
        string? note = null;
        bool frozen = false;
        bool freezeSent = false;
        try
        {
            await agent.SyncAsync(agentTimeout, cancellationToken).ConfigureAwait(false);
            freezeSent = true;
            int count = await agent.FreezeAsync(agentTimeout, cancellationToken).ConfigureAwait(false);
            frozen = true;
            _log?.Invoke($"qemu-ga froze {count} file system(s) for the checkpoint");
        }
        catch (QemuGuestAgentException e)
        {
            note = $"the QEMU guest agent could not freeze the file systems ({e.Message}); the checkpoint is crash-consistent"
                + (freezeSent ? "; a thaw was sent after the cut in case the guest froze anyway" : string.Empty);
        }

        Snapshots.VmCheckpoint cut;
        try
        {
            cut = await Task.Run(() => Checkpoint(path, incremental), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (freezeSent)
            {
                try
                {
                    await agent.ThawAsync(agentTimeout, CancellationToken.None).ConfigureAwait(false);
                }
                catch (QemuGuestAgentException e)
                {
                    _log?.Invoke($"guest-fsfreeze-thaw after the checkpoint failed: {e.Message}" + (frozen ? " (the guest's file systems may stay frozen)" : " (expected when the freeze never happened)"));
                }
            }
        }

        cut.Consistency = frozen ? Snapshots.CheckpointConsistency.ApplicationConsistent : Snapshots.CheckpointConsistency.CrashConsistent;
        cut.ConsistencyNote = note;
        return cut;
    }
}
