using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Tests.Support;
using Backup.Hypervisor.Timing;
using Backup.TestSupport;

namespace Backup.Hypervisor.Tests.Linux;

/// <summary>Boots the real guest with no disk, deterministic time and <c>guest.poweroff=0</c>, and returns how it ended and its console.</summary>
internal static class GuestBoot
{
    public static (VmExit Exit, string Console) Run(ulong memory, int cpus, Action<VirtualMachine>? afterRun = null)
    {
        var console = new ConsoleCapture();
        using var vm = new VirtualMachine(new VmConfiguration
        {
            KernelPath = GuestImage.KernelPath,
            MemorySize = memory,
            CpuCount = cpus,
            CommandLine = "console=ttyS0 guest.poweroff=0",
            Clock = ClockMode.Deterministic,
            InstructionLimit = 3_000_000_000,
        }, console.Write);
        var exit = vm.Run();
        afterRun?.Invoke(vm);
        return (exit, console.Text);
    }
}
