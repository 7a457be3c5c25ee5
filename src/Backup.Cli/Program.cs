using System.CommandLine;
using Backup.Cli.Commands;

namespace Backup.Cli;

/// <summary>The `backup` command: the appliance's command line.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var root = new RootCommand("Backup appliance: protects VMs running on its embedded RISC-V hypervisor")
        {
            VmCommands.Create(),
        };
        return root.Parse(args).Invoke();
    }
}
