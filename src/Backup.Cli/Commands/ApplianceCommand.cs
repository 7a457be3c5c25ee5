using System.CommandLine;
using Backup.Policies.Loading;
using Backup.Repository.Backends;
using Backup.Repository.Errors;
using Backup.Repository.Locks;
using Backup.Service.Api;
using Backup.Service.Data;

namespace Backup.Cli.Commands;

/// <summary>
/// What the appliance commands (serve, vm create/start/stop/list/console, backup, points, restore, recover, jobs,
/// catalog) share: the <c>--data</c> folder option and one mapping of failures to messages and exit codes
/// (0 success; 1 operational failure; 2 bad input).
/// </summary>
internal static class ApplianceCommand
{
    /// <summary>--data on every command (default $BACKUP_DATA, else ~/.local/share/backup-appliance).</summary>
    public static readonly Option<string?> Data = new("--data")
    {
        Description = $"the appliance's data folder (default ${ApplianceData.Variable}, else ~/.local/share/backup-appliance)",
        Recursive = true,
    };

    public static ApplianceData Resolve(ParseResult parse) => ApplianceData.Resolve(parse.GetValue(Data));

    public static int Run(Func<Task<int>> action)
    {
        try
        {
            return action().GetAwaiter().GetResult();
        }
        catch (PolicyException e)
        {
            foreach (var error in e.Errors)
            {
                Console.Error.WriteLine($"backup: {error}");
            }

            if (e.Errors.Count == 0)
            {
                Console.Error.WriteLine($"backup: {e.Message}");
            }

            return 2;
        }
        catch (Exception e) when (e is UsageException or WrongPassphraseException or ArgumentException or FormatException or FileNotFoundException
            or DirectoryNotFoundException or UnauthorizedAccessException or Disks.BlockDevices.DiskImageException)
        {
            Console.Error.WriteLine($"backup: {e.Message}");
            return 2;
        }
        catch (RepositoryCorruptException e)
        {
            Console.Error.WriteLine($"backup: repository damaged: {e.Message}");
            return 1;
        }
        catch (Exception e) when (e is ServiceException or DataFolderBusyException or UnsupportedFormatVersionException or RepositoryLockedException
            or IOException or InvalidOperationException or BackendTransientException or InvalidDataException or TimeoutException)
        {
            Console.Error.WriteLine($"backup: {e.Message}");
            return 1;
        }
    }
}
