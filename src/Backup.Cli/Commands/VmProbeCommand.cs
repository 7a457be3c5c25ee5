using System.CommandLine;
using System.Globalization;
using Backup.Service.Api;

namespace Backup.Cli.Commands;

/// <summary>
/// `backup vm probe NAME --ping | --tcp PORT | --http PORT[/PATH]`: checks a running VM from the appliance's own
/// endpoint on its network, as failover drills do. Exit 0 when the probe passes, 1 when it fails (the reason printed),
/// 2 on bad input. The VM runs in the service (or a foreground `vm start`), which owns its network.
/// </summary>
internal static class VmProbeCommand
{
    public static Command Create()
    {
        var name = new Argument<string>("name");
        var ping = new Option<bool>("--ping") { Description = "ICMP echo" };
        var tcp = new Option<int?>("--tcp") { Description = "connect to this TCP port" };
        var http = new Option<string?>("--http") { Description = "HTTP GET: PORT or PORT/PATH (e.g. 80/health)" };
        var status = new Option<int?>("--expect-status") { Description = "the HTTP status expected (default: any 2xx)" };
        var body = new Option<string?>("--expect-body") { Description = "text the HTTP body must contain" };
        var nic = new Option<int>("--nic") { Description = "the NIC whose network carries the probe (0 = the first)", DefaultValueFactory = _ => 0 };
        var timeout = new Option<double>("--timeout") { Description = "seconds to wait", DefaultValueFactory = _ => 5 };
        var command = new Command("probe", "Check a running VM over its network from the appliance: ping, TCP port open, HTTP status/body")
        {
            name, ping, tcp, http, status, body, nic, timeout,
        };
        command.SetAction(parse => ApplianceCommand.Run(async () =>
        {
            var probe = Parse(parse.GetValue(ping), parse.GetValue(tcp), parse.GetValue(http), parse.GetValue(status), parse.GetValue(body),
                parse.GetValue(nic), parse.GetValue(timeout));
            var data = ApplianceCommand.Resolve(parse);
            using var service = await ServiceClient.TryConnect(data).ConfigureAwait(false)
                ?? throw new UsageException($"no service runs on {data.Root}: probes go through the process that runs the VM's network (`backup serve`, or `backup vm start` in the foreground)");
            var reply = await service.ProbeAsync(parse.GetValue(name)!, probe).ConfigureAwait(false);
            string detail = reply.StatusCode is { } code ? string.Create(CultureInfo.InvariantCulture, $" (HTTP {code})") : string.Empty;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{reply.Target}: {(reply.Success ? "ok" : $"FAILED ({reply.Failure})")} in {reply.Milliseconds:F1} ms{detail}: {reply.Reason}"));
            return reply.Success ? 0 : 1;
        }));
        return command;
    }

    private static ProbeCommand Parse(bool ping, int? tcp, string? http, int? status, string? body, int nic, double timeout)
    {
        int kinds = (ping ? 1 : 0) + (tcp is null ? 0 : 1) + (http is null ? 0 : 1);
        if (kinds != 1)
        {
            throw new UsageException("give exactly one of --ping, --tcp PORT or --http PORT[/PATH]");
        }

        if ((status is not null || body is not null) && http is null)
        {
            throw new UsageException("--expect-status and --expect-body go with --http");
        }

        if (timeout is <= 0 or > 300)
        {
            throw new UsageException("--timeout is 0..300 seconds");
        }

        if (ping)
        {
            return new ProbeCommand("ping", Nic: nic, TimeoutSeconds: timeout);
        }

        if (tcp is { } port)
        {
            return new ProbeCommand("tcp", port, Nic: nic, TimeoutSeconds: timeout);
        }

        int slash = http!.IndexOf('/', StringComparison.Ordinal);
        string portText = slash < 0 ? http : http[..slash];
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out int httpPort))
        {
            throw new UsageException($"--http '{http}' is not PORT or PORT/PATH");
        }

        return new ProbeCommand("http", httpPort, slash < 0 ? "/" : http[slash..], status, body, nic, timeout);
    }
}
