using Backup.Repository.Backends.Factory;
using Backup.Repository.Tests.Backends.Servers;
using Backup.Repository.Tests.Support;

namespace Backup.Repository.Tests.Backends.Factory;

/// <summary>A factory-made Azure backend holds a whole repository on Azurite.</summary>
[Collection(AzuriteGroup.Name)]
public sealed class FactoryAzureRepositoryTests(AzuriteFixture server)
{
    [Fact]
    public async Task A_repository_round_trips_through_an_azure_url()
    {
        var backend = RepositoryBackendFactory.Create($"azure://{AzuriteFixture.Container}/repo-{Guid.NewGuid():N}", new RepositoryBackendOptions { AzureConnectionString = server.ConnectionString });
        var image = TestImages.Create(3 * 1024 * 1024, 9);
        using (var repository = await TestRepositories.InitAsync(backend, packTargetSize: 1024 * 1024))
        {
            var point = await TestRepositories.PutImageAsync(repository, "vm", image);
            Assert.Equal(image, await TestRepositories.RestoreAsync(repository, point));
        }

        using var reopened = await BackupRepository.OpenAsync(backend, TestRepositories.Passphrase);
        Assert.True((await reopened.VerifyAsync()).IsHealthy);
    }
}
