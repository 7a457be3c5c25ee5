namespace Backup.Service.Data;

/// <summary>
/// The appliance's data folder and where everything lives in it:
/// <code>
///   catalog.db            SQLite catalog of VMs, restore points and jobs (rebuildable from the repositories)
///   vms/NAME/vm.json      a VM's definition; vms/NAME/state/ its change tracking; vms/NAME/console.log
///   networks/NAME/        a network's definition (network.json) and its DHCP leases (leases.json)
///   repository/           the default local repository; repository.key its passphrase (created with it, mode 0600)
///   policies/             protection policies (*.yaml) when `backup serve` is not given --policies
///   recovered/NAME/       overlays and state of instantly recovered VMs
///   work/                 checkpoint files while they are uploaded (leftovers removed at start)
///   .lock, service.sock   the folder lock and the running service's API socket
/// </code>
/// The default folder is $BACKUP_DATA, else $XDG_DATA_HOME/backup-appliance, else ~/.local/share/backup-appliance.
/// </summary>
public sealed class ApplianceData
{
    public const string Variable = "BACKUP_DATA";

    public ApplianceData(string root)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(root);
        Root = Path.GetFullPath(root);
    }

    public string Root { get; }

    public string CatalogPath => Path.Combine(Root, "catalog.db");

    public string VmsDirectory => Path.Combine(Root, "vms");

    public string DefaultRepository => Path.Combine(Root, "repository");

    public string DefaultRepositoryKey => Path.Combine(Root, "repository.key");

    public string PoliciesDirectory => Path.Combine(Root, "policies");

    public string RecoveredDirectory => Path.Combine(Root, "recovered");

    public string WorkDirectory => Path.Combine(Root, "work");

    public string LockPath => Path.Combine(Root, ".lock");

    public string SocketPath => Path.Combine(Root, "service.sock");

    /// <summary>The folder given on the command line, or the default.</summary>
    public static ApplianceData Resolve(string? given)
    {
        if (!string.IsNullOrWhiteSpace(given))
        {
            return new ApplianceData(given);
        }

        string? fromEnvironment = Environment.GetEnvironmentVariable(Variable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            return new ApplianceData(fromEnvironment);
        }

        string? xdg = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
        string baseDirectory = !string.IsNullOrWhiteSpace(xdg)
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share");
        return new ApplianceData(Path.Combine(baseDirectory, "backup-appliance"));
    }

    public string NetworksDirectory => Path.Combine(Root, "networks");

    public string NetworkDirectory(string name) => Path.Combine(NetworksDirectory, name);

    public string NetworkDefinitionPath(string name) => Path.Combine(NetworkDirectory(name), "network.json");

    public string NetworkLeasesPath(string name) => Path.Combine(NetworkDirectory(name), "leases.json");

    public string VmDirectory(string name) => Path.Combine(VmsDirectory, name);

    public string VmDefinitionPath(string name) => Path.Combine(VmDirectory(name), "vm.json");

    public string VmStateDirectory(string name) => Path.Combine(VmDirectory(name), "state");

    public string VmConsoleLog(string name) => Path.Combine(VmDirectory(name), "console.log");

    /// <summary>Creates the folder (and its subfolders) if missing.</summary>
    public void EnsureCreated()
    {
        Directory.CreateDirectory(Root);
        Directory.CreateDirectory(VmsDirectory);
        Directory.CreateDirectory(WorkDirectory);
    }
}
