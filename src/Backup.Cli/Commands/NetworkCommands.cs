using System.CommandLine;
using Backup.Engine.Networks;
using Backup.Service.Networks;
using Backup.Service.Vms;

namespace Backup.Cli.Commands;

/// <summary>
/// `backup network create|list|delete`: the appliance's isolated networks (a virtual switch each, with the appliance's
/// DHCP and DNS on it). VMs join one with `backup vm create ... --nic network=NAME`.
/// </summary>
internal static class NetworkCommands
{
    public static Command Create()
    {
        var network = new Command("network", "Manage the appliance's isolated virtual networks");
        network.Subcommands.Add(Define());
        network.Subcommands.Add(List());
        network.Subcommands.Add(Delete());
        return network;
    }

    private static Command Define()
    {
        var name = new Argument<string>("name") { Description = "the network's name (a-z, 0-9, '-', starting with a letter)" };
        var subnet = new Option<string?>("--subnet") { Description = "IPv4 subnet in CIDR form, /16 to /29 (default: the first free of 10.100.0.0/24 .. 10.199.0.0/24)" };
        var domain = new Option<string?>("--domain") { Description = "DNS domain the network's VMs are named under (default NAME.lab)" };
        var command = new Command("create", "Create an isolated network: a virtual switch with the appliance's DHCP and DNS on it") { name, subnet, domain };
        command.SetAction(parse => ApplianceCommand.Run(() =>
        {
            var data = ApplianceCommand.Resolve(parse);
            data.EnsureCreated();
            var created = new NetworkStore(data).Create(new NetworkDefinition
            {
                Name = parse.GetValue(name)!,
                Subnet = parse.GetValue(subnet) ?? string.Empty,
                Domain = parse.GetValue(domain),
            });
            Console.WriteLine($"created network {created.Name}: subnet {created.Subnet}, domain {created.EffectiveDomain}");
            return Task.FromResult(0);
        }));
        return command;
    }

    private static Command List()
    {
        var command = new Command("list", "List the appliance's networks and the VMs on each");
        command.SetAction(parse => ApplianceCommand.Run(() =>
        {
            var data = ApplianceCommand.Resolve(parse);
            var (networks, problems) = new NetworkStore(data).List();
            foreach (string problem in problems)
            {
                Console.Error.WriteLine($"backup: {problem}");
            }

            if (networks.Count == 0)
            {
                Console.WriteLine("no networks (create one with `backup network create NAME`)");
                return Task.FromResult(problems.Count == 0 ? 0 : 1);
            }

            var vms = new VmStore(data).List().Definitions;
            Console.WriteLine($"{"NAME",-20} {"SUBNET",-18} {"DOMAIN",-24} VMS");
            foreach (var network in networks)
            {
                var members = vms.Where(v => v.Nics.Any(n => n.Network == network.Name)).Select(v => v.Name).ToList();
                Console.WriteLine($"{network.Name,-20} {network.Subnet,-18} {network.EffectiveDomain,-24} {(members.Count == 0 ? "-" : string.Join(", ", members))}");
            }

            return Task.FromResult(problems.Count == 0 ? 0 : 1);
        }));
        return command;
    }

    private static Command Delete()
    {
        var name = new Argument<string>("name");
        var command = new Command("delete", "Delete a network no VM uses (with its DHCP leases)") { name };
        command.SetAction(parse => ApplianceCommand.Run(() =>
        {
            var data = ApplianceCommand.Resolve(parse);
            new NetworkStore(data).Delete(parse.GetValue(name)!, new VmStore(data));
            Console.WriteLine($"deleted network {parse.GetValue(name)}");
            return Task.FromResult(0);
        }));
        return command;
    }
}
