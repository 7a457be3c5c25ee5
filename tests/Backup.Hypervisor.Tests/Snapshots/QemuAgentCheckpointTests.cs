using Backup.Disks.BlockDevices;
using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Snapshots;

namespace Backup.Hypervisor.Tests.Snapshots;

/// <summary>
/// Checkpoints and the QEMU guest agent's virtio-serial device: a checkpoint from before the device existed (the golden
/// v1 file) restores into a machine that has it, which then saves the device's sections; those restore into the same
/// shape bit for bit and are refused by name by a machine without the agent.
/// </summary>
public sealed class QemuAgentCheckpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("qga-checkpoint-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string GoldenPath => Path.Combine(AppContext.BaseDirectory, "Snapshots", "Fixtures", "golden-v1.vmstate");

    [Fact]
    public async Task An_older_checkpoint_restores_with_the_device_at_power_on_and_the_devices_sections_are_strict()
    {
        using var disk = OpenDisk();
        string withAgent = Path.Combine(_dir, "with-agent.vmstate");
        byte[] digest;
        using (var vm = VirtualMachine.Restore(Config(disk, qemuGuestAgent: true), [GoldenPath], _ => { }))
        {
            Assert.NotNull(vm.QemuAgent);
            Assert.False(vm.Serial!.Ports[0].GuestConnected);
            vm.Serial.Ports[0].EnqueueInput("{\"execute\":\"guest-ping\"}\n"u8); // host bytes the guest has not taken yet
            await vm.Checkpoint(withAgent, incremental: false).Completion.WaitAsync(TimeSpan.FromMinutes(1));
            digest = vm.DigestState();
        }

        using (var again = VirtualMachine.Restore(Config(disk, qemuGuestAgent: true), [withAgent], _ => { }))
        {
            Assert.Equal(digest, again.DigestState());
            Assert.True(again.Serial!.Ports[0].HasPendingInput);
        }

        var refused = Assert.Throws<VmStateFormatException>(() => VirtualMachine.Restore(Config(disk, qemuGuestAgent: false), [withAgent], _ => { }).Dispose());
        Assert.Contains("parts this machine does not have: virtio-serial, virtio-serial-ports", refused.Message, StringComparison.Ordinal);
    }

    private static VmConfiguration Config(IBlockDevice disk, bool qemuGuestAgent) =>
        BareMetalGuest.Config("golden-v1.elf (not needed to restore)", disk) with { QemuGuestAgent = qemuGuestAgent };

    private RawFileDisk OpenDisk()
    {
        string path = Path.Combine(_dir, $"disk-{Guid.NewGuid():N}.img");
        BareMetalGuest.CreateDisk(path);
        return RawFileDisk.Open(path);
    }
}
