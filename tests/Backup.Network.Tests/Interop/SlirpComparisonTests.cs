using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Backup.Network.Ethernet;
using Backup.Network.Forwarding;
using Xunit.Abstractions;

namespace Backup.Network.Tests.Interop;

/// <summary>
/// The benchmark with the host's Linux kernel standing in for the guest: TCP through a host port forward,
/// ours against libslirp (QEMU's -netdev user backend, run by slirp4netns at QEMU's MTU of 1500), same sink and
/// source in a private network namespace, same host client, in the same go. Prints; asserts only the byte counts.
/// </summary>
public sealed class SlirpComparisonTests(ITestOutputHelper output)
{
    private const string Sink = "import socket\ns=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', 9000)); s.listen(1); print('ready', flush=True)\nc,_=s.accept(); n=0\nwhile True:\n    b=c.recv(1<<20)\n    if not b: break\n    n+=len(b)\nprint(n, flush=True)\n";
    private const string Source = "import socket\ns=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', 9001)); s.listen(1); print('ready', flush=True)\nc,_=s.accept(); b=bytes(1<<20)\nfor i in range(512): c.sendall(b)\nc.close()\n";
    private const string Client = "import socket, sys, time\nmode, port = sys.argv[1], int(sys.argv[2])\nc=socket.create_connection(('127.0.0.1', port)); t=time.time(); n=0\nif mode == 'up':\n    b=bytes(256*1024)\n    for i in range(2048): c.sendall(b)\n    c.shutdown(socket.SHUT_WR); c.recv(1); n=512<<20\nelse:\n    while True:\n        d=c.recv(256*1024)\n        if not d: break\n        n+=len(d)\nprint(f'{n} {n/1048576/(time.time()-t):.0f}')\n";
    private const string Api = "import socket, sys, json\ns=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\ns.sendall(json.dumps({'execute':'add_hostfwd','arguments':{'proto':'tcp','host_addr':'127.0.0.1','host_port':int(sys.argv[2]),'guest_port':int(sys.argv[3])}}).encode())\nprint(s.recv(4096).decode())\n";

    [LinuxInteropFact]
    public async Task HostToGuestAndBackThroughAForwardAgainstLibslirp()
    {
        string folder = Directory.CreateTempSubdirectory("slirp-compare").FullName;
        try
        {
            foreach (var (name, text) in new[] { ("sink.py", Sink), ("source.py", Source), ("client.py", Client), ("api.py", Api) })
            {
                await File.WriteAllTextAsync(Path.Combine(folder, name), text);
            }

            var ours = await OursAsync(folder);
            var slirp = await SlirpAsync(folder);
            output.WriteLine($"host-to-guest: appliance {ours.Up} MiB/s, libslirp {slirp.Up} MiB/s (ratio {ours.Up / slirp.Up:0.00})");
            output.WriteLine($"guest-to-host: appliance {ours.Down} MiB/s, libslirp {slirp.Down} MiB/s (ratio {ours.Down / slirp.Down:0.00})");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static async Task<(double Up, double Down)> OursAsync(string folder)
    {
        var mac = MacAddress.Parse("52:54:00:77:77:78");
        using var network = new VirtualNetwork(new VirtualNetworkOptions { Name = "compare" });
        var ip = network.Subnet.Host(77);
        using var tap = new LinuxTap(network.Attach("linux", mac, ip));
        tap.Run("ip", "link", "set", "tap0", "address", mac.ToString());
        tap.Run("ip", "addr", "add", $"{ip}/{network.Subnet.PrefixLength}", "dev", "tap0");
        tap.Run("ip", "link", "set", "tap0", "up");
        using var up = network.AddForward("linux", ForwardSpec.Parse("tcp:127.0.0.1:0-:9000"));
        using var down = network.AddForward("linux", ForwardSpec.Parse("tcp:127.0.0.1:0-:9001"));
        using var sink = tap.Start("python3", Path.Combine(folder, "sink.py"));
        Assert.Equal("ready", await sink.StandardOutput.ReadLineAsync());
        double upRate = RunClient(folder, "up", up.HostEndPoint.Port);
        Assert.Equal("536870912", (await sink.StandardOutput.ReadToEndAsync()).Trim());
        using var source = tap.Start("python3", Path.Combine(folder, "source.py"));
        Assert.Equal("ready", await source.StandardOutput.ReadLineAsync());
        return (upRate, RunClient(folder, "down", down.HostEndPoint.Port));
    }

    private static async Task<(double Up, double Down)> SlirpAsync(string folder)
    {
        using var ns = Process.Start(new ProcessStartInfo("unshare", ["-n", "sleep", "300"]))!;
        await Task.Delay(500);
        string socketPath = Path.Combine(folder, "api.sock");
        using var slirp = Process.Start(new ProcessStartInfo("slirp4netns", ["--configure", "--mtu=1500", "--api-socket", socketPath, ns.Id.ToString(CultureInfo.InvariantCulture), "tap0"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        try
        {
            for (int i = 0; i < 100 && !File.Exists(socketPath); i++)
            {
                await Task.Delay(50);
            }

            int upPort = FreePort(), downPort = FreePort();
            Run("python3", Path.Combine(folder, "api.py"), socketPath, upPort.ToString(CultureInfo.InvariantCulture), "9000");
            Run("python3", Path.Combine(folder, "api.py"), socketPath, downPort.ToString(CultureInfo.InvariantCulture), "9001");
            string nsPid = ns.Id.ToString(CultureInfo.InvariantCulture);
            using var sink = Process.Start(new ProcessStartInfo("nsenter", ["-t", nsPid, "-n", "python3", Path.Combine(folder, "sink.py")]) { RedirectStandardOutput = true })!;
            Assert.Equal("ready", await sink.StandardOutput.ReadLineAsync());
            double upRate = RunClient(folder, "up", upPort);
            Assert.Equal("536870912", (await sink.StandardOutput.ReadToEndAsync()).Trim());
            using var source = Process.Start(new ProcessStartInfo("nsenter", ["-t", nsPid, "-n", "python3", Path.Combine(folder, "source.py")]) { RedirectStandardOutput = true })!;
            Assert.Equal("ready", await source.StandardOutput.ReadLineAsync());
            return (upRate, RunClient(folder, "down", downPort));
        }
        finally
        {
            slirp.Kill();
            ns.Kill();
        }
    }

    private static double RunClient(string folder, string mode, int port)
    {
        string[] result = Run("python3", Path.Combine(folder, "client.py"), mode, port.ToString(CultureInfo.InvariantCulture)).Trim().Split(' ');
        Assert.Equal("536870912", result[0]);
        return double.Parse(result[1], CultureInfo.InvariantCulture);
    }

    private static string Run(string file, params string[] arguments)
    {
        using var p = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        string text = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(2)) && p.ExitCode == 0, $"{file} {string.Join(' ', arguments)}: {text}");
        return text;
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
