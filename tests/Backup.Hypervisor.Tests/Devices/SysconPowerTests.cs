using Backup.Hypervisor.Devices;

namespace Backup.Hypervisor.Tests.Devices;

public sealed class SysconPowerTests
{
    private readonly List<PowerRequest> _requests = [];

    private SysconPower Create() => new(_requests.Add);

    [Fact]
    public void Pass_value_powers_off()
    {
        var device = Create();
        device.Write(0, 4, 0x5555);
        Assert.Equal([PowerRequest.PowerOff], _requests);
        Assert.Equal(0x100000UL, device.Base);
        Assert.Equal(0x1000UL, device.Size);
    }

    [Fact]
    public void Reset_value_reboots()
    {
        Create().Write(0, 4, 0x7777);
        Assert.Equal([PowerRequest.Reboot], _requests);
    }

    [Fact]
    public void Fail_value_carries_the_exit_code()
    {
        Create().Write(0, 4, 0x3333 | (42u << 16));
        var request = Assert.Single(_requests);
        Assert.Equal(PowerRequestKind.Fail, request.Kind);
        Assert.Equal(42, request.ExitCode);
    }

    [Fact]
    public void Other_values_offsets_and_sizes_are_ignored_and_reads_are_zero()
    {
        var device = Create();
        device.Write(0, 4, 0x1234);
        device.Write(4, 4, 0x5555);
        device.Write(0, 1, 0x55);
        device.Write(0xFFC, 4, 0x7777);
        Assert.Empty(_requests);
        Assert.Equal(0UL, device.Read(0, 4));
    }
}
