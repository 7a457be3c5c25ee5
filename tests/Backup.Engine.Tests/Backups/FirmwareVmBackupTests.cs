using Backup.Engine.Backups;
using Backup.Engine.Recovery;
using Backup.Engine.Running;
using Backup.Engine.Tests.Support;
using Backup.Engine.Vms;
using Backup.Hypervisor.Boot;
using Backup.Repository;
using Backup.Repository.Backends.Local;
using Backup.Repository.Configuration;
using Backup.Repository.Crypto;
using Backup.TestSupport;

namespace Backup.Engine.Tests.Backups;

/// <summary>
/// A VM that boots through OpenSBI and U-Boot from its disk's extlinux.conf, backed up while it runs (firmware,
/// payload, disk and memory state in the point) and recovered cold (firmware from the point boots the disk again)
/// and resumed (the cut's memory, PMP included, continues).
/// </summary>
public sealed class FirmwareVmBackupTests : IDisposable
{
    private static readonly TimeSpan BootTimeout = TimeSpan.FromMinutes(3);
    private readonly string _dir = Directory.CreateTempSubdirectory("engine-fw-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_firmware_booted_vm_is_backed_up_with_its_firmware_and_recovered_cold_and_resumed()
    {
        string disk = Path.Combine(_dir, "boot.img");
        ExtlinuxDisk.Create(disk, 16L << 20, new Dictionary<string, byte[]>
        {
            ["boot/Image"] = File.ReadAllBytes(GuestImage.KernelPath),
            ["extlinux/extlinux.conf"] = ExtlinuxDisk.Config("console=ttyS0 guest.heartbeat=1 guest.disktest=0"),
        });
        var definition = new VmDefinition
        {
            Name = "fw",
            Firmware = FirmwareBoot.OpenSbiUBootName,
            Disks = [new VmDiskDefinition { Path = disk }],
        };
        using var repository = await BackupRepository.InitAsync(new LocalFolderBackend(Path.Combine(_dir, "repository")), "fw tests",
            new RepositoryOptions { Kdf = new KdfParameters(1024, 1, 1) });

        BackupResult point;
        using (var tap = new ConsoleTap(null))
        {
            var console = new ConsoleLines(tap);
            using var vm = ManagedVm.Boot(definition, Path.Combine(_dir, "state"), tap);
            await console.WaitForAsync("guest: heartbeat 1", vm, BootTimeout);
            Assert.Contains("OpenSBI v", console.Text, StringComparison.Ordinal);
            point = await VmBackupRunner.BackupAsync(vm, repository, new BackupRequest { WorkDirectory = Path.Combine(_dir, "work") });
            Assert.True(point.HasMemoryState);
        }

        foreach (bool resume in new[] { false, true })
        {
            using var tap = new ConsoleTap(null);
            var console = new ConsoleLines(tap);
            string directory = Path.Combine(_dir, resume ? "resumed" : "cold");
            using var recovered = await InstantRecovery.StartAsync(repository, new RecoveryRequest
            {
                PointId = point.PointId,
                Name = resume ? "resumed" : "cold",
                Resume = resume,
                Directory = directory,
            }, tap);
            await console.WaitForAsync(resume ? "guest: heartbeat" : "guest: ready", recovered.Vm, BootTimeout);
            if (!resume)
            {
                Assert.Contains("U-Boot 20", console.Text, StringComparison.Ordinal); // the firmware from the point booted the disk
            }

            Assert.Equal(File.ReadAllBytes(FirmwareBoot.DefaultOpenSbiPath), File.ReadAllBytes(Path.Combine(directory, PointStreams.Firmware)));
            Assert.Equal(File.ReadAllBytes(FirmwareBoot.DefaultUBootPath), File.ReadAllBytes(Path.Combine(directory, PointStreams.FirmwarePayload)));
            if (resume)
            {
                Assert.DoesNotContain("OpenSBI v", console.Text, StringComparison.Ordinal);
            }
        }
    }
}
