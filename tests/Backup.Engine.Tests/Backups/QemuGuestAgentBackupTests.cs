using System.Diagnostics;
using Backup.Engine.Backups;
using Backup.Engine.Recovery;
using Backup.Engine.Running;
using Backup.Engine.Vms;
using Backup.Repository;
using Backup.Repository.Backends.Local;
using Backup.Repository.Configuration;
using Backup.Repository.Crypto;
using Backup.TestSupport;

namespace Backup.Engine.Tests.Backups;

/// <summary>
/// A managed VM with the QEMU guest agent (Debian's real qemu-ga, appliance/guest/debian-qga): its application-consistent
/// backup freezes through qemu-ga, the restore point keeps the flag, and the VM resumed from that point has the agent's
/// port again, with qemu-ga answering on it and its file systems thawed (the point's memory was cut while frozen).
/// </summary>
public sealed class QemuGuestAgentBackupTests : IDisposable
{
    private static readonly TimeSpan AgentTimeout = TimeSpan.FromSeconds(20);
    private readonly string _dir = Directory.CreateTempSubdirectory("engine-qga-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [DebianQgaFact]
    public async Task An_application_consistent_backup_freezes_through_qemu_ga_and_the_resumed_vm_keeps_the_agent()
    {
        var guest = DebianQgaGuest.TryLocate(out _)!;
        string disk = Path.Combine(_dir, "data.ext4");
        MakeExt4(disk);
        var definition = new VmDefinition
        {
            Name = "qga",
            Kernel = guest.KernelPath,
            Initrd = guest.InitrdPath,
            Disks = [new VmDiskDefinition { Path = disk }],
            MemoryBytes = 256UL << 20,
            CommandLine = "console=ttyS0",
            QemuGuestAgent = true,
        };
        using var repository = await BackupRepository.InitAsync(new LocalFolderBackend(Path.Combine(_dir, "repository")), "qga",
            new RepositoryOptions { Kdf = new KdfParameters(1024, 1, 1) });
        using var tap = new ConsoleTap(null);
        BackupResult result;
        using (var vm = ManagedVm.Boot(definition, Path.Combine(_dir, "state"), tap))
        {
            await vm.Machine.QemuAgent!.WaitUntilReadyAsync(TimeSpan.FromMinutes(3));
            result = await VmBackupRunner.BackupAsync(vm, repository, new BackupRequest
            {
                Consistency = BackupConsistency.Application,
                AgentTimeout = AgentTimeout,
                WorkDirectory = Path.Combine(_dir, "work"),
            });
            Assert.Equal(("application", null), (result.Consistency, result.ConsistencyNote));
            var stored = await PointReading.ReadConfigurationAsync(repository, result.PointId);
            Assert.True(stored!.Vm.QemuGuestAgent);
            Assert.Equal(Backup.Hypervisor.Agent.QgaFreezeStatus.Thawed, await vm.Machine.QemuAgent.GetFreezeStatusAsync(AgentTimeout));
        }

        {
            using var recoveredTap = new ConsoleTap(null);
            using var recovered = await InstantRecovery.StartAsync(repository, new RecoveryRequest
            {
                PointId = result.PointId,
                Name = "qga-resumed",
                Resume = true,
                Directory = Path.Combine(_dir, "recovered"),
            }, recoveredTap);
            Assert.True(recovered.Configuration.Vm.QemuGuestAgent);
            var agent = recovered.Vm.Machine.QemuAgent!;
            // qemu-ga, resumed from the point's memory (cut while frozen), was thawed by the recovery and answers on the
            // restored port; while frozen it would refuse guest-get-osinfo ("has been disabled").
            Assert.Equal(Backup.Hypervisor.Agent.QgaFreezeStatus.Thawed, await agent.GetFreezeStatusAsync(AgentTimeout));
            var os = await agent.GetOsInfoAsync(AgentTimeout);
            Assert.Equal("debian", os.Id);
        }
    }

    private static void MakeExt4(string path)
    {
        using (var file = File.Create(path))
        {
            file.SetLength(16L << 20);
        }

        using var mke2fs = Process.Start(new ProcessStartInfo("mke2fs", ["-q", "-F", "-t", "ext4", path]) { RedirectStandardError = true })
            ?? throw new InvalidOperationException("mke2fs did not start (package e2fsprogs)");
        string errors = mke2fs.StandardError.ReadToEnd();
        mke2fs.WaitForExit();
        Assert.True(mke2fs.ExitCode == 0, $"mke2fs failed: {errors}");
    }
}
