using Backup.Engine.Vms;
using Backup.TestSupport;

namespace Backup.Engine.Tests.Support;

/// <summary>The realistic guest (ext4 server, SQLite workload, agent) as a VM definition over copies of its disks.</summary>
public static class DemoVm
{
    public static VmDefinition Create(string directory, string name = "demo")
    {
        var guest = RealisticGuest.Locate();
        var (root, data) = guest.CopyDisks(directory);
        return new VmDefinition
        {
            Name = name,
            Kernel = RealisticGuest.KernelPath,
            Disks = [new VmDiskDefinition { Path = root }, new VmDiskDefinition { Path = data }],
            MemoryBytes = 128UL << 20,
            CommandLine = guest.CommandLine,
            AgentChannel = true,
        };
    }
}
