using System.CommandLine;
using Backup.Service.Hosting;
using Backup.Service.Scheduling;

namespace Backup.Cli.Commands;

/// <summary>`backup serve`: the appliance service in the foreground (systemd runs it as a unit).</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var policies = new Option<DirectoryInfo?>("--policies") { Description = "folder of protection policies (*.yaml; default: the data folder's policies/)" };
        var noAutostart = new Option<bool>("--no-autostart") { Description = "do not start the VMs marked autostart" };
        var command = new Command("serve", "Run the appliance: autostart VMs, scheduled protection policies, the API for the CLI") { policies, noAutostart };
        command.SetAction(parse => ApplianceCommand.Run(async () =>
        {
            var data = ApplianceCommand.Resolve(parse);
            var folder = parse.GetValue(policies);
            var plans = PolicyPlans.Load(folder?.FullName ?? data.PoliciesDirectory, data, required: folder is not null);
            await using var host = await ApplianceHost.StartAsync(new ServiceOptions
            {
                Data = data,
                Plans = plans,
                StartAutostartVms = !parse.GetValue(noAutostart),
                JsonLogs = Console.IsOutputRedirected,
            }).ConfigureAwait(false);
            await host.Stopping.ConfigureAwait(false);
            return 0;
        }));
        return command;
    }
}
