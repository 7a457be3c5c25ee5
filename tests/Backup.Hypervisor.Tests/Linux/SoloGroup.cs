namespace Backup.Hypervisor.Tests.Linux;

/// <summary>Tests that measure the whole process (its resident memory) and so must not share it with other tests running at the same time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SoloGroup
{
    public const string Name = "runs alone";
}
