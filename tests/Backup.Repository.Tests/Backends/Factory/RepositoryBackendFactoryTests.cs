using Backup.Repository.Backends;
using Backup.Repository.Backends.Azure;
using Backup.Repository.Backends.Factory;
using Backup.Repository.Backends.Local;
using Backup.Repository.Backends.Resilience;
using Backup.Repository.Backends.S3;
using Backup.Repository.Tests.Support;

namespace Backup.Repository.Tests.Backends.Factory;

/// <summary>Repository URLs to backends.</summary>
public sealed class RepositoryBackendFactoryTests : IDisposable
{
    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static IRepositoryBackend Unwrap(IRepositoryBackend backend) => Assert.IsType<RetryingBackend>(backend).Inner;

    [Fact]
    public void Folder_paths_and_file_urls_open_local_folders()
    {
        var path = Path.Combine(_folder.Path, "repo");
        Assert.IsType<LocalFolderBackend>(Unwrap(RepositoryBackendFactory.Create(path)));
        Assert.IsType<LocalFolderBackend>(Unwrap(RepositoryBackendFactory.Create(new Uri(path).AbsoluteUri)));
    }

    [Fact]
    public void Local_folders_are_told_apart_from_remote_repositories()
    {
        Assert.Equal("relative/repo", RepositoryBackendFactory.LocalFolder("relative/repo"));
        Assert.Equal("/srv/repo", RepositoryBackendFactory.LocalFolder("file:///srv/repo"));
        Assert.Null(RepositoryBackendFactory.LocalFolder("s3://bucket/prefix?endpoint=http://127.0.0.1:9000"));
        Assert.Null(RepositoryBackendFactory.LocalFolder("azure://container/prefix"));
        Assert.Contains("not a local file URL", Assert.Throws<ArgumentException>(() => RepositoryBackendFactory.LocalFolder("file://host/srv/repo")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void S3_urls_name_bucket_prefix_and_endpoint()
    {
        var backend = Unwrap(RepositoryBackendFactory.Create("s3://my-bucket/backups/site1?endpoint=http://127.0.0.1:9000&region=eu-west-1&create-only=check-then-put",
            new RepositoryBackendOptions { S3AccessKeyId = "a", S3SecretAccessKey = "b" }));
        var s3 = Assert.IsType<S3Backend>(backend);
        Assert.Equal("s3://my-bucket/backups/site1/ at http://127.0.0.1:9000", s3.Location);
        s3.Dispose();
    }

    [Fact]
    public void Azure_urls_name_container_and_prefix()
    {
        var backend = Unwrap(RepositoryBackendFactory.Create("azure://backups/site1", new RepositoryBackendOptions
        {
            AzureConnectionString = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;",
        }));
        Assert.StartsWith("azure://backups/site1/ at http://127.0.0.1:10000", Assert.IsType<AzureBlobBackend>(backend).Location);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("   ", "empty")]
    [InlineData("ftp://host/x", "unsupported scheme 'ftp'")]
    [InlineData("s3://", "names no bucket")]
    [InlineData("s3:///prefix", "names no bucket")]
    [InlineData("s3://Bad_Bucket/x", "not a valid S3 bucket name")]
    [InlineData("s3://bucket/a//b", "prefix")]
    [InlineData("s3://bucket/../x", "prefix")]
    [InlineData("s3://bucket/x?endpoint=notaurl", "endpoint 'notaurl'")]
    [InlineData("s3://bucket/x?path-style=maybe", "path-style")]
    [InlineData("s3://bucket/x?colour=blue", "unknown parameter 'colour'")]
    [InlineData("s3://bucket/x?endpoint", "not name=value")]
    [InlineData("s3://bucket/x?create-only=never", "create-only")]
    [InlineData("azure://", "names no container")]
    [InlineData("azure://Upper/x", "not a valid Azure container name")]
    [InlineData("azure://a--b/x", "not a valid Azure container name")]
    [InlineData("azure://backups/x?sas=1", "take no parameters")]
    [InlineData("file://server/share", "not a local file URL")]
    public void Malformed_urls_are_refused_with_a_clear_message(string url, string expected)
    {
        var error = Assert.Throws<ArgumentException>(() => RepositoryBackendFactory.Create(url, new RepositoryBackendOptions { AzureConnectionString = "UseDevelopmentStorage=true" }));
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void The_retry_policy_comes_from_the_options()
    {
        var policy = RetryPolicy.None;
        var backend = Assert.IsType<RetryingBackend>(RepositoryBackendFactory.Create(Path.Combine(_folder.Path, "r"), new RepositoryBackendOptions { Retry = policy }));
        Assert.Same(policy, backend.Policy);
    }
}
