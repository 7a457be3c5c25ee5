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
            RepoCommands.Create(),
            NetworkCommands.Create(),
            ServeCommand.Create(),
        };
        root.Options.Add(ApplianceCommand.Data);
        foreach (var command in ProtectionCommands.Create())
        {
            root.Subcommands.Add(command);
        }

        args = MapBackupNow(args);

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            // Usage errors exit 2 with the parser's message (not the default 1 reserved for operational failures).
            foreach (var error in parsed.Errors)
            {
                Console.Error.WriteLine($"backup: {error.Message}");
            }

            return 2;
        }

        return parsed.Invoke();
    }

    /// <summary>`backup backup VM` (after any root options such as --data DIR) is the "backup now" command.</summary>
    private static string[] MapBackupNow(string[] args)
    {
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--data" || args[i] == ApplianceCommand.Data.Name)
            {
                i++; // its value
                continue;
            }

            if (args[i].StartsWith('-'))
            {
                continue;
            }

            if (args[i] == "backup")
            {
                var mapped = (string[])args.Clone();
                mapped[i] = ProtectionCommands.BackupNowName;
                return mapped;
            }

            break;
        }

        return args;
    }
}
