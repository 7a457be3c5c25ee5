using Backup.Disks.Snapshots;
using Backup.Engine.Vms;

namespace Backup.Engine.Tests.Vms;

/// <summary>The VM definition's change-tracking granularity: effective value per disk, validation, JSON round trip.</summary>
public sealed class VmDefinitionTests
{
    private static readonly VmDefinition Two = new()
    {
        Name = "vm1",
        Kernel = "/k",
        Disks = [new VmDiskDefinition { Path = "/a" }, new VmDiskDefinition { Path = "/b", CbtGranularity = 1 << 20 }],
    };

    [Fact]
    public void A_disks_own_granularity_overrides_the_vms_which_overrides_the_default()
    {
        Assert.Equal(TrackedDiskOptions.DefaultGranularity, Two.CbtGranularityOf(0));
        Assert.Equal(1 << 20, Two.CbtGranularityOf(1));
        var vmWide = Two with { CbtGranularity = 256 << 10 };
        Assert.Equal(256 << 10, vmWide.CbtGranularityOf(0));
        Assert.Equal(1 << 20, vmWide.CbtGranularityOf(1));
        Assert.Equal(256 << 10, vmWide.CbtGranularityOf(7)); // a disk the definition does not list (a recovered point's)
    }

    [Theory]
    [InlineData(3000, "not a power of two")]
    [InlineData(2048, "from 4K to 64M")]
    [InlineData(128 << 20, "from 4K to 64M")]
    [InlineData(0, "of 0 bytes")]
    [InlineData(-65536, "of -65536 bytes")]
    public void A_bad_granularity_is_refused_naming_the_vm_the_disk_and_the_limits(int bytes, string expected)
    {
        var vmWide = Assert.Throws<ArgumentException>(() => (Two with { CbtGranularity = bytes }).Validate());
        Assert.Contains("VM 'vm1': change-tracking granularity", vmWide.Message, StringComparison.Ordinal);
        Assert.Contains(expected, vmWide.Message, StringComparison.Ordinal);

        var perDisk = Assert.Throws<ArgumentException>(() => (Two with { Disks = [Two.Disks[0] with { CbtGranularity = bytes }] }).Validate());
        Assert.Contains("disk 0 (/a): change-tracking granularity", perDisk.Message, StringComparison.Ordinal);
        Assert.Contains(expected, perDisk.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_granularity_survives_json_and_a_damaged_value_in_a_stored_definition_is_named()
    {
        var definition = Two with { CbtGranularity = 4096 };
        Assert.Equal(definition.CbtGranularityOf(0), VmDefinition.FromJson(definition.ToJson(), "test").CbtGranularityOf(0));
        Assert.Equal(1 << 20, VmDefinition.FromJson(definition.ToJson(), "test").CbtGranularityOf(1));
        Assert.DoesNotContain("cbtGranularity", (Two with { Disks = [Two.Disks[0]] }).ToJson(), StringComparison.Ordinal); // unset: not written

        string damaged = definition.ToJson().Replace("\"cbtGranularity\": 4096", "\"cbtGranularity\": 5000", StringComparison.Ordinal);
        var refused = Assert.Throws<FormatException>(() => VmDefinition.FromJson(damaged, "/data/vms/vm1/vm.json"));
        Assert.Contains("/data/vms/vm1/vm.json: VM 'vm1': change-tracking granularity of 5000 bytes", refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(4096, "4K")]
    [InlineData(65536, "64K")]
    [InlineData(1 << 20, "1M")]
    [InlineData(64 << 20, "64M")]
    [InlineData(512, "512")]
    public void Granularities_are_shown_as_operators_write_them(int bytes, string shown) => Assert.Equal(shown, VmDefinition.FormatGranularity(bytes));
}
