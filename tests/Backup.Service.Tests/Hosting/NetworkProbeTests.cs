using Backup.Cli.Tests.Commands;
using Backup.Engine.Networks;
using Backup.Engine.Vms;
using Backup.Service.Data;
using Backup.Service.Hosting;
using Backup.Service.Networks;
using Backup.Service.Vms;
using Backup.TestSupport;

namespace Backup.Service.Tests.Hosting;

/// <summary>
/// An operator checks a VM the service runs on an appliance network: `backup vm probe` (ping, TCP, HTTP with
/// expectations) answers through the service, `backup vm list` shows the NIC's leased address, and a probe of a VM
/// that is not running is refused by name.
/// </summary>
public sealed class NetworkProbeTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(4);
    private readonly string _dir = Directory.CreateTempSubdirectory("probe-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Probes_and_the_vm_list_reach_a_stock_debian_vm_through_the_service()
    {
        var stock = DebianStockGuest.Locate();
        var data = new ApplianceData(Path.Combine(_dir, "data"));
        data.EnsureCreated();
        new NetworkStore(data).Create(new NetworkDefinition { Name = "lab" });
        new VmStore(data).Create(new VmDefinition
        {
            Name = "web",
            Kernel = stock.KernelPath,
            Initrd = stock.InitrdPath,
            CommandLine = "console=ttyS0 quiet net.dhcp=1 net.httpd=1 net.shell=1",
            Nics = [new VmNicDefinition { Network = "lab" }],
            Autostart = true,
        });
        string d = data.Root;
        await using (var host = await ApplianceHost.StartAsync(new ServiceOptions { Data = data, RunScheduler = false }))
        {
            await WaitForConsole(data.VmConsoleLog("web"), "debian-stock: httpd on port 80");

            var ping = BackupProcess.Run(Patience, "--data", d, "vm", "probe", "web", "--ping");
            Assert.True(ping.ExitCode == 0, ping.StdOut + ping.StdErr);
            Assert.Matches(@"^ping 10\.100\.0\.\d+: ok in ", ping.StdOut);

            var open = BackupProcess.Run(Patience, "--data", d, "vm", "probe", "web", "--tcp", "80");
            Assert.True(open.ExitCode == 0, open.StdOut + open.StdErr);
            var closed = BackupProcess.Run(Patience, "--data", d, "vm", "probe", "web", "--tcp", "5432");
            Assert.Equal(1, closed.ExitCode);
            Assert.Contains("FAILED (Refused)", closed.StdOut, StringComparison.Ordinal);

            var page = BackupProcess.Run(Patience, "--data", d, "vm", "probe", "web", "--http", "80/index.html", "--expect-status", "200", "--expect-body", "stock Debian");
            Assert.True(page.ExitCode == 0, page.StdOut + page.StdErr);
            Assert.Contains("(HTTP 200)", page.StdOut, StringComparison.Ordinal);
            var wrong = BackupProcess.Run(Patience, "--data", d, "vm", "probe", "web", "--http", "80/index.html", "--expect-body", "nginx");
            Assert.Equal(1, wrong.ExitCode);

            var list = BackupProcess.Run(Patience, "--data", d, "vm", "list");
            Assert.Matches(@"  eth0: lab 52:54:00:[0-9a-f:]{8} 10\.100\.0\.\d+\n", list.StdOut);

            var nobody = BackupProcess.Run(Patience, "--data", d, "vm", "probe", "db", "--ping");
            Assert.Equal(1, nobody.ExitCode);
            Assert.Contains("VM 'db' is not running", nobody.StdErr, StringComparison.Ordinal);
            var bad = BackupProcess.Run(Patience, "--data", d, "vm", "probe", "web", "--ping", "--tcp", "80");
            Assert.Equal(2, bad.ExitCode);
            Assert.Contains("exactly one of --ping, --tcp PORT or --http", bad.StdErr, StringComparison.Ordinal);
        }

        var withoutService = BackupProcess.Run(Patience, "--data", d, "vm", "probe", "web", "--ping");
        Assert.Equal(2, withoutService.ExitCode);
        Assert.Contains("no service runs", withoutService.StdErr, StringComparison.Ordinal);
        Assert.Contains("\"52:54:00:", File.ReadAllText(data.NetworkLeasesPath("lab")), StringComparison.Ordinal);
    }

    private static async Task WaitForConsole(string log, string marker)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!(File.Exists(log) && (await File.ReadAllTextAsync(log)).Contains(marker, StringComparison.Ordinal)))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"'{marker}' did not appear in {log}:\n{(File.Exists(log) ? await File.ReadAllTextAsync(log) : "(no log)")}");
            }

            await Task.Delay(200);
        }
    }
}
