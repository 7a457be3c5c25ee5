using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Backup.Network.Endpoint;
using Backup.Network.Ethernet;
using Backup.Network.Forwarding;
using Backup.Network.Probes;
using Xunit.Abstractions;

namespace Backup.Network.Tests.Interop;

/// <summary>The whole stack against a real Linux TCP/IP stack (the host kernel, in its own network namespace).</summary>
public sealed class LinuxKernelInteropTests(ITestOutputHelper output)
{
    private static readonly MacAddress LinuxMac = MacAddress.Parse("52:54:00:77:77:77");
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [LinuxInteropFact]
    public async Task PingsProbesForwardsAndDnsWorkWithALinuxKernel()
    {
        using var network = new VirtualNetwork(new VirtualNetworkOptions { Name = "interop" });
        var linuxIp = network.Subnet.Host(77);
        using var tap = new LinuxTap(network.Attach("linux", LinuxMac, linuxIp));
        tap.Run("ip", "link", "set", "lo", "up");
        tap.Run("ip", "link", "set", "tap0", "address", LinuxMac.ToString());
        tap.Run("ip", "addr", "add", $"{linuxIp}/{network.Subnet.PrefixLength}", "dev", "tap0");
        tap.Run("ip", "link", "set", "tap0", "up");
        tap.Run("ip", "route", "add", "default", "via", network.GatewayAddress.ToString());

        var ping = await network.PingAsync("linux", Timeout);
        Assert.True(ping.Success, ping.ToString());
        output.WriteLine(ping.ToString());
        var refused = await network.TcpProbeAsync("linux", 1, Timeout);
        Assert.Equal(NetworkFailure.Refused, refused.Failure);

        // DNS from Linux: the VM's own name through the gateway
        string dns = tap.Run("python3", "-c", DnsQueryScript(network.GatewayAddress, "linux.lab"));
        Assert.Contains(linuxIp.ToString(), dns, StringComparison.Ordinal);

        // a Linux HTTP server: probe it, then download through a forward with curl... from the host side
        string folder = Directory.CreateTempSubdirectory("interop").FullName;
        try
        {
            await File.WriteAllBytesAsync(Path.Combine(folder, "index.html"), "hello from linux"u8.ToArray());
            var blob = new byte[64 << 20];
            new Random(1).NextBytes(blob);
            await File.WriteAllBytesAsync(Path.Combine(folder, "blob"), blob);
            using var http = tap.Start("python3", "-m", "http.server", "8000", "--bind", linuxIp.ToString(), "--directory", folder);
            ProbeResult probe = ProbeResult.Failed("", TimeSpan.Zero, NetworkFailure.Timeout, "not tried");
            for (int i = 0; i < 200 && !probe.Success && !http.HasExited; i++)
            {
                await Task.Delay(100);
                probe = await network.HttpProbeAsync("linux", 8000, new HttpProbe { ExpectedStatus = 200, ExpectedBody = "hello from linux" }, Timeout);
            }

            Assert.True(probe.Success, probe + (http.HasExited ? " / http.server: " + http.StandardError.ReadToEnd() : ""));
            output.WriteLine(probe.ToString());

            using var forward = network.AddForward("linux", ForwardSpec.Parse("tcp:127.0.0.1:0-:8000"));
            var watch = Stopwatch.StartNew();
            using var client = new HttpClient();
            var downloaded = await client.GetByteArrayAsync($"http://127.0.0.1:{forward.HostEndPoint.Port}/blob");
            output.WriteLine($"guest-to-host download of a file from python's http.server through a forward: {64 / watch.Elapsed.TotalSeconds:0} MiB/s");
            Assert.True(blob.AsSpan().SequenceEqual(downloaded));
            http.Kill();
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }

        await UploadAsync(network, tap, linuxIp);
        await DownloadAsync(network, tap, linuxIp);
    }

    private async Task DownloadAsync(VirtualNetwork network, LinuxTap tap, IPAddress linuxIp)
    {
        const long size = 512L << 20;
        using var source = tap.Start("python3", "-c", SourceScript(linuxIp, 9001, size));
        using var forward = network.AddForward("linux", ForwardSpec.Parse("tcp:127.0.0.1:0-:9001"));
        using var client = new TcpClient();
        Assert.Equal("ready", await source.StandardOutput.ReadLineAsync());
        await client.ConnectAsync(forward.HostEndPoint);
        var buffer = new byte[256 * 1024];
        long received = 0;
        var watch = Stopwatch.StartNew();
        int n;
        while ((n = await client.GetStream().ReadAsync(buffer)) > 0)
        {
            received += n;
        }

        double seconds = watch.Elapsed.TotalSeconds;
        Assert.Equal(size, received);
        output.WriteLine($"guest-to-host download through a forward from Linux: {size / (1024.0 * 1024.0) / seconds:0} MiB/s (512 MiB in {seconds:0.00} s)");
    }

    private static string SourceScript(IPAddress ip, int port, long size) =>
        $"import socket; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('{ip}', {port})); s.listen(1); print('ready', flush=True); c,_=s.accept(); b=bytes(1<<20)\n" +
        $"for i in range({size >> 20}): c.sendall(b)\nc.close()";

    [LinuxInteropFact]
    public void BusyboxUdhcpcGetsALeaseWithRouterDnsDomainAndItsHostnameRecorded()
    {
        string folder = Directory.CreateTempSubdirectory("interop-dhcp").FullName;
        try
        {
            string leases = Path.Combine(folder, "leases.json");
            using var network = new VirtualNetwork(new VirtualNetworkOptions { Name = "interop-dhcp", LeaseFile = leases });
            using var tap = new LinuxTap(network.Attach("linux", LinuxMac));
            tap.Run("ip", "link", "set", "tap0", "address", LinuxMac.ToString());
            tap.Run("ip", "link", "set", "tap0", "up");
            string script = Path.Combine(folder, "script");
            File.WriteAllText(script, "#!/bin/sh\necho \"$1 ip=$ip mask=$subnet router=$router dns=$dns domain=$domain lease=$lease\"\n");
            if (OperatingSystem.IsLinux())
            {
                File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            string result = tap.Run("busybox", "udhcpc", "-i", "tap0", "-f", "-q", "-n", "-t", "5", "-T", "1", "-s", script, "-x", "hostname:penguin");
            output.WriteLine(result);
            var address = network.Dhcp.AddressOf(LinuxMac);
            Assert.NotNull(address);
            Assert.Contains($"bound ip={address} mask=255.255.255.0 router={network.GatewayAddress} dns={network.GatewayAddress} domain=lab lease=3600", result, StringComparison.Ordinal);
            Assert.Equal(address, network.Dns.Resolve("penguin.lab"));
            Assert.Equal(address, network.Dns.Resolve("linux"));
            Assert.Contains("penguin", File.ReadAllText(leases), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private async Task UploadAsync(VirtualNetwork network, LinuxTap tap, IPAddress linuxIp)
    {
        const long size = 512L << 20;
        using var sink = tap.Start("python3", "-c", SinkScript(linuxIp, 9000));
        using var forward = network.AddForward("linux", ForwardSpec.Parse("tcp:127.0.0.1:0-:9000"));
        using var client = new TcpClient();
        Assert.Equal("ready", await sink.StandardOutput.ReadLineAsync());
        await client.ConnectAsync(forward.HostEndPoint);
        var chunk = new byte[256 * 1024];
        var watch = Stopwatch.StartNew();
        for (long sent = 0; sent < size; sent += chunk.Length)
        {
            await client.GetStream().WriteAsync(chunk);
        }

        client.Client.Shutdown(SocketShutdown.Send);
        string received = (await sink.StandardOutput.ReadToEndAsync()).Trim();
        double seconds = watch.Elapsed.TotalSeconds;
        Assert.Equal(size.ToString(System.Globalization.CultureInfo.InvariantCulture), received);
        output.WriteLine($"host-to-guest upload through a forward into Linux: {size / (1024.0 * 1024.0) / seconds:0} MiB/s (512 MiB in {seconds:0.00} s)");
    }

    private static string SinkScript(IPAddress ip, int port) =>
        $"import socket; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('{ip}', {port})); s.listen(1); print('ready', flush=True); c,_=s.accept(); n=0\n" +
        "while True:\n  b=c.recv(1<<20)\n  if not b: break\n  n+=len(b)\nprint(n)";

    private static string DnsQueryScript(IPAddress server, string name)
    {
        string labels = string.Concat(name.Split('.').Select(l => $"bytes([{l.Length}])+b'{l}'+"));
        return "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5); " +
            $"q=b'\\x12\\x34\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00'+{labels}b'\\x00\\x00\\x01\\x00\\x01'; " +
            $"s.sendto(q, ('{server}', 53)); r=s.recv(512); print('.'.join(str(x) for x in r[-4:]))";
    }
}
