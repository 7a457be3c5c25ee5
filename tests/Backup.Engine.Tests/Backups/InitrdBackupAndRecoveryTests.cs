using Backup.Engine.Backups;
using Backup.Engine.Recovery;
using Backup.Engine.Running;
using Backup.Engine.Tests.Support;
using Backup.Repository;
using Backup.Repository.Backends.Local;
using Backup.Repository.Configuration;
using Backup.Repository.Crypto;

namespace Backup.Engine.Tests.Backups;

/// <summary>A VM that boots with an initrd keeps it in its restore points, and instant recovery boots it with the same initrd.</summary>
public sealed class InitrdBackupAndRecoveryTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("engine-initrd-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task The_initrd_is_stored_in_the_point_and_a_cold_recovery_boots_with_an_identical_copy()
    {
        // Any bytes do for the check: the kernel reports an initrd it cannot unpack and boots on from its own.
        byte[] initrd = new byte[300_001];
        new Random(13).NextBytes(initrd);
        string initrdPath = Path.Combine(_dir, "initrd.img");
        await File.WriteAllBytesAsync(initrdPath, initrd);
        var definition = DemoVm.Create(_dir) with { Initrd = initrdPath };

        using var repository = await BackupRepository.InitAsync(new LocalFolderBackend(Path.Combine(_dir, "repository")), "initrd tests",
            new RepositoryOptions { Kdf = new KdfParameters(1024, 1, 1) });
        var result = await VmBackupRunner.BackupStoppedAsync(definition, Path.Combine(_dir, "state"), repository);

        using var recovered = await InstantRecovery.StartAsync(repository,
            new RecoveryRequest { PointId = result.PointId, Directory = Path.Combine(_dir, "recovered") }, new ConsoleTap(null));
        try
        {
            Assert.Equal(initrdPath, recovered.Configuration.Vm.Initrd);
            string extracted = Path.Combine(_dir, "recovered", "initrd");
            Assert.Equal(initrd, await File.ReadAllBytesAsync(extracted));
            var machine = recovered.Vm.Machine.Description;
            Assert.Equal((ulong)initrd.Length, machine.InitrdEnd - machine.InitrdStart);
            Assert.True(recovered.Vm.Machine.Ram.TryGetSpan(machine.InitrdStart!.Value, 64, out var start));
            Assert.Equal(initrd.AsSpan(0, 64).ToArray(), start.ToArray());
        }
        finally
        {
            await recovered.Vm.StopAsync("test done", TimeSpan.FromMinutes(1));
        }
    }
}
