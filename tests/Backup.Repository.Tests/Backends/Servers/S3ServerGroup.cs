namespace Backup.Repository.Tests.Backends.Servers;

/// <summary>Tests that share one s3rver.</summary>
[CollectionDefinition(Name)]
public sealed class S3ServerGroup : ICollectionFixture<S3ServerFixture>
{
    public const string Name = "s3rver";
}
