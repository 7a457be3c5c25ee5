using Backup.Engine.Backups;
using Backup.Engine.Vms;

namespace Backup.Engine.Tests.Vms;

/// <summary>The VM definition's QEMU guest agent flag: JSON, old definitions, restore points, the machine configuration.</summary>
public sealed class QemuGuestAgentDefinitionTests
{
    private static readonly VmDefinition Vm = new()
    {
        Name = "qga1",
        Kernel = "/k",
        Disks = [new VmDiskDefinition { Path = "/a" }],
    };

    [Fact]
    public void The_flag_survives_json_and_a_restore_points_configuration_and_reaches_the_machine()
    {
        var with = Vm with { QemuGuestAgent = true };
        Assert.Contains("\"qemuGuestAgent\": true", with.ToJson(), StringComparison.Ordinal);
        Assert.True(VmDefinition.FromJson(with.ToJson(), "test").QemuGuestAgent);

        var point = new PointConfiguration { Vm = with, Consistency = "application" };
        Assert.True(PointConfiguration.FromBytes(point.ToBytes(), "p1").Vm.QemuGuestAgent);

        Assert.True(with.ToConfiguration([]).QemuGuestAgent);
        Assert.False(Vm.ToConfiguration([]).QemuGuestAgent);
        Assert.False(with.ToConfiguration([]).AgentChannel);
    }

    [Fact]
    public void A_definition_written_before_the_flag_existed_loads_without_the_agent()
    {
        string old = Vm.ToJson().Replace("\"qemuGuestAgent\": false,", string.Empty, StringComparison.Ordinal)
            .Replace(",\n  \"qemuGuestAgent\": false", string.Empty, StringComparison.Ordinal);
        Assert.DoesNotContain("qemuGuestAgent", old, StringComparison.Ordinal);
        Assert.False(VmDefinition.FromJson(old, "old.json").QemuGuestAgent);
    }
}
