using Backup.Hypervisor.Machine;

namespace Backup.Hypervisor.Tests.Linux;

/// <summary>The real guest on 3 and 4 harts (4 is the most the machine offers): every hart comes up, userland runs, power-off is clean.</summary>
public sealed class MachineShapeBootTests
{
    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    public void Linux_brings_up_every_hart_reaches_ready_and_powers_off(int cpus)
    {
        var (exit, text) = GuestBoot.Run(64UL << 20, cpus);

        Assert.True(exit.Kind == VmExitKind.PowerOff, $"{exit}\n--- console ---\n{text}");
        Assert.Contains($"smp: Brought up 1 node, {cpus} CPUs", text, StringComparison.Ordinal);
        for (int cpu = 1; cpu < cpus; cpu++)
        {
            Assert.DoesNotContain($"CPU{cpu}: failed to come online", text, StringComparison.Ordinal);
        }

        Assert.Contains("guest: ready", text, StringComparison.Ordinal);
        Assert.Contains("guest: poweroff", text, StringComparison.Ordinal);
        Assert.Contains("reboot: Power down", text, StringComparison.Ordinal);
    }
}
