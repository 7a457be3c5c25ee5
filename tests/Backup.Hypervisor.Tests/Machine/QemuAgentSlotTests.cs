using Backup.Disks.BlockDevices;
using Backup.Hypervisor.DeviceTree;
using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Tests.Snapshots;

namespace Backup.Hypervisor.Tests.Machine;

/// <summary>The virtio-serial slot exists exactly when the VM has the QEMU guest agent, at its reserved address and source.</summary>
public sealed class QemuAgentSlotTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("qga-slot-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void The_slot_follows_the_flag_and_keeps_the_console_where_it_was(bool qemuGuestAgent)
    {
        string path = Path.Combine(_dir, "disk.img");
        BareMetalGuest.CreateDisk(path);
        using var disk = RawFileDisk.Open(path);
        string golden = Path.Combine(AppContext.BaseDirectory, "Snapshots", "Fixtures", "golden-v1.vmstate");
        using var vm = VirtualMachine.Restore(BareMetalGuest.Config("golden-v1.elf", disk) with { QemuGuestAgent = qemuGuestAgent }, [golden], _ => { });

        Assert.Contains(new VirtioMmioSlot(VirtualMachine.ConsoleBase, VirtualMachine.ConsoleIrq), vm.Description.VirtioSlots);
        Assert.Equal(qemuGuestAgent, vm.Description.VirtioSlots.Contains(new VirtioMmioSlot(0x1000_B000, 14)));
        Assert.Equal(qemuGuestAgent, vm.QemuAgent is not null);
        Assert.Equal(qemuGuestAgent, vm.Serial is not null);
        Assert.Equal(qemuGuestAgent ? "org.qemu.guest_agent.0" : null, vm.Serial?.Ports.Single().Name);
    }
}
