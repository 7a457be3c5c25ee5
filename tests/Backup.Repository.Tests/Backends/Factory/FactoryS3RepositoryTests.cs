using Backup.Repository.Backends.Factory;
using Backup.Repository.Tests.Backends.Servers;
using Backup.Repository.Tests.Support;

namespace Backup.Repository.Tests.Backends.Factory;

/// <summary>A factory-made S3 backend holds a whole repository on s3rver.</summary>
[Collection(S3ServerGroup.Name)]
public sealed class FactoryS3RepositoryTests(S3ServerFixture server)
{
    [Fact]
    public async Task A_repository_round_trips_through_an_s3_url()
    {
        var url = $"s3://{S3ServerFixture.Bucket}/repo-{Guid.NewGuid():N}?endpoint={Uri.EscapeDataString(server.Endpoint.AbsoluteUri)}";
        var backend = RepositoryBackendFactory.Create(url, new RepositoryBackendOptions { S3AccessKeyId = S3ServerFixture.AccessKey, S3SecretAccessKey = S3ServerFixture.SecretKey });
        var image = TestImages.Create(3 * 1024 * 1024, 8);
        using (var repository = await TestRepositories.InitAsync(backend, packTargetSize: 1024 * 1024))
        {
            var point = await TestRepositories.PutImageAsync(repository, "vm", image);
            Assert.Equal(image, await TestRepositories.RestoreAsync(repository, point));
        }

        using var reopened = await BackupRepository.OpenAsync(backend, TestRepositories.Passphrase);
        Assert.True((await reopened.VerifyAsync()).IsHealthy);
        ((IDisposable)backend).Dispose();
    }
}
