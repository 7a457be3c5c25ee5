using Backup.Repository.Backends;
using Backup.Repository.Configuration;
using Backup.Repository.Crypto;

namespace Backup.Repository.Tests.Support;

/// <summary>Repository creation with a cheap KDF so tests stay fast.</summary>
public static class TestRepositories
{
    public const string Passphrase = "correct horse battery staple";

    public static RepositoryOptions Options(int packTargetSize = 4 * 1024 * 1024) => new()
    {
        Kdf = new KdfParameters(1024, 1, 1),
        PackTargetSize = packTargetSize,
    };

    public static Task<BackupRepository> InitAsync(IRepositoryBackend backend, int packTargetSize = 4 * 1024 * 1024) =>
        BackupRepository.InitAsync(backend, Passphrase, Options(packTargetSize));

    public static async Task<string> PutImageAsync(BackupRepository repository, string vm, byte[] image, string disk = "vda")
    {
        await using var writer = await repository.BeginPointAsync(vm);
        using var stream = new MemoryStream(image, writable: false);
        await writer.AddDiskAsync(disk, stream);
        var manifest = await writer.CommitAsync();
        return manifest.Id;
    }

    public static async Task<byte[]> RestoreAsync(BackupRepository repository, string pointId, string disk = "vda")
    {
        var reader = await repository.OpenPointAsync(pointId);
        using var output = new MemoryStream();
        await reader.RestoreDiskAsync(disk, output);
        return output.ToArray();
    }
}
