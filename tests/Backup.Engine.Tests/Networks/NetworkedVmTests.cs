using System.Net;
using System.Net.Sockets;
using Backup.Engine.Networks;
using Backup.Engine.Running;
using Backup.Engine.Tests.Support;
using Backup.Engine.Vms;
using Backup.Network.Endpoint;
using Backup.TestSupport;

namespace Backup.Engine.Tests.Networks;

/// <summary>
/// A managed VM running stock Debian (kernel 6.12, busybox udhcpc and httpd) on an appliance network: it configures
/// itself by DHCP, answers the appliance's probes by name, is reachable from the host only through its port forward,
/// and keeps its address across a restart (the lease file in the data folder).
/// </summary>
public sealed class NetworkedVmTests : IDisposable
{
    private static readonly TimeSpan Boot = TimeSpan.FromMinutes(4);
    private readonly string _dir = Directory.CreateTempSubdirectory("networked-vm-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_stock_debian_vm_gets_a_lease_answers_probes_and_serves_through_its_forward()
    {
        var stock = DebianStockGuest.Locate();
        var network = new NetworkDefinition { Name = "lab", Subnet = "10.100.0.0/24" };
        string leases = Path.Combine(_dir, "leases.json");
        int hostPort = FreeLoopbackPort();
        var definition = new VmDefinition
        {
            Name = "web",
            Kernel = stock.KernelPath,
            Initrd = stock.InitrdPath,
            MemoryBytes = 256UL << 20,
            CommandLine = "console=ttyS0 quiet net.dhcp=1 net.httpd=1 net.shell=1",
            Nics = [new VmNicDefinition { Network = "lab", Mac = "52:54:00:10:00:01" }],
            Forwards = [PortForwardDefinition.Parse($"tcp:127.0.0.1:{hostPort}-:80")],
        };

        IPAddress first;
        using (var fabric = new NetworkFabric(name => name == "lab" ? network : throw new ArgumentException($"no network named '{name}'"), _ => leases))
        {
            using (var tap = new ConsoleTap(Path.Combine(_dir, "console1.log")))
            {
                var lines = new ConsoleLines(tap);
                using var vm = ManagedVm.Boot(definition, Path.Combine(_dir, "state"), tap, networks: fabric);
                await lines.WaitForAsync("debian-stock: httpd on port 80", vm, Boot);
                Assert.Contains("debian-stock: net eth0 52:54:00:10:00:01 10.100.0.", lines.Text, StringComparison.Ordinal);

                var lab = fabric.NetworkOf("web")!;
                first = lab.AddressOf("web")!;
                Assert.True(lab.Subnet.ContainsHost(first), $"{first} is outside {lab.Subnet}");
                Assert.Equal(IPAddress.Parse("10.100.0.1"), lab.GatewayAddress);

                var ping = await fabric.ProbeAsync("web", VmProbe.Ping(), TimeSpan.FromSeconds(20));
                Assert.True(ping.Success, ping.ToString());
                var open = await fabric.ProbeAsync("web", VmProbe.Tcp(80), TimeSpan.FromSeconds(20));
                Assert.True(open.Success, open.ToString());
                var closed = await fabric.ProbeAsync("web", VmProbe.Tcp(5432), TimeSpan.FromSeconds(20));
                Assert.Equal((false, NetworkFailure.Refused), (closed.Success, closed.Failure));
                var page = await fabric.ProbeAsync("web", VmProbe.Http(80, "/index.html", 200, "stock Debian guest"), TimeSpan.FromSeconds(20));
                Assert.True(page.Success, page.ToString());
                var wrong = await fabric.ProbeAsync("web", VmProbe.Http(80, "/index.html", 200, "something else"), TimeSpan.FromSeconds(20));
                Assert.Equal((false, NetworkFailure.UnexpectedResponse), (wrong.Success, wrong.Failure));
                var missing = await fabric.ProbeAsync("web", VmProbe.Http(80, "/missing", 200, null), TimeSpan.FromSeconds(20));
                Assert.Equal((false, 404), (missing.Success, missing.StatusCode));
                var unknown = await fabric.ProbeAsync("nobody", VmProbe.Ping(), TimeSpan.FromSeconds(1));
                Assert.Contains("not running on a network", unknown.Reason, StringComparison.Ordinal);

                using (var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) })
                {
                    string body = await http.GetStringAsync(new Uri($"http://127.0.0.1:{hostPort}/index.html"));
                    Assert.Equal("served by the stock Debian guest\n", body);
                }

                await vm.StopAsync("test", TimeSpan.FromSeconds(30));
            }

            // Stopped: unplugged, its forward closed, its name gone; the lease stays.
            Assert.Null(fabric.NetworkOf("web"));
            Assert.Throws<SocketException>(() => new TcpClient().Connect(IPAddress.Loopback, hostPort));
            Assert.Contains("52:54:00:10:00:01", File.ReadAllText(leases), StringComparison.Ordinal);
        }

        // A new process (a new fabric over the same lease file): the VM gets the same address back.
        using (var fabric = new NetworkFabric(_ => network, _ => leases))
        using (var tap = new ConsoleTap(Path.Combine(_dir, "console2.log")))
        {
            var lines = new ConsoleLines(tap);
            using var vm = ManagedVm.Boot(definition, Path.Combine(_dir, "state"), tap, networks: fabric);
            await lines.WaitForAsync("debian-stock: httpd on port 80", vm, Boot);
            Assert.Equal(first, fabric.NetworkOf("web")!.AddressOf("web"));
            await vm.StopAsync("test", TimeSpan.FromSeconds(30));
        }
    }

    [Fact]
    public void A_vm_with_nics_where_no_network_runs_is_refused_naming_them()
    {
        var definition = new VmDefinition { Name = "web", Kernel = "/k", Nics = [new VmNicDefinition { Network = "lab", Mac = "52:54:00:10:00:01" }] };
        using var tap = new ConsoleTap(Path.Combine(_dir, "console.log"));
        var e = Assert.Throws<ArgumentException>(() => ManagedVm.Boot(definition, Path.Combine(_dir, "state"), tap));
        Assert.Contains("VM 'web' has network cards (lab)", e.Message, StringComparison.Ordinal);
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
