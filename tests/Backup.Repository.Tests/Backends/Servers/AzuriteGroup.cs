namespace Backup.Repository.Tests.Backends.Servers;

/// <summary>Tests that share one Azurite.</summary>
[CollectionDefinition(Name)]
public sealed class AzuriteGroup : ICollectionFixture<AzuriteFixture>
{
    public const string Name = "azurite";
}
