using System.Globalization;
using Backup.Hypervisor.Machine;
using Backup.Network;
using Backup.Network.Addressing;
using Backup.Network.Ethernet;
using Backup.Network.Forwarding;
using Backup.TestSupport;

namespace Backup.Benchmarks;

/// <summary>
/// Bulk TCP between two stock Debian guests (appliance/guest/debian-stock/build; busybox nc, random data, SHA-256
/// checked): on our core (translated, real time, 256 MiB, one hart each, virtio-net joined by an in-memory link) with
/// offloads negotiated and with none offered, and on two qemu-system-riscv64 (TCG) joined by <c>-netdev socket</c>.
/// Each machine pair boots once and runs the transfer <c>--runs</c> times; reports the median MiB/s and the ratio.
/// </summary>
public static class NetworkBenchmark
{
    private static readonly TimeSpan Command = TimeSpan.FromMinutes(5);

    public static int Run(BenchmarkOptions options)
    {
        var guest = DebianStockGuest.Locate();
        int mib = options.SizeMib;
        var results = new List<(string Machine, List<double> Seconds)>
        {
            ("ours, translated, offloads (TSO/CSUM) on", Ours(guest, offloads: true, mib, options.Runs)),
            ("ours, translated, offloads off", Ours(guest, offloads: false, mib, options.Runs)),
            ("qemu-system-riscv64 (TCG), -netdev socket", Qemu(guest, mib, options.Runs)),
        };

        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine($"stock Debian guests: {guest.Directory}; {mib} MiB A->B over TCP (busybox nc), {options.Runs} runs each, medians");
        Console.WriteLine("| machines | seconds | MiB/s |");
        Console.WriteLine("| --- | --- | --- |");
        foreach (var (machine, seconds) in results)
        {
            double median = Median(seconds);
            Console.WriteLine(string.Create(inv, $"| {machine} | {median:F2} | {mib / median:F2} |"));
        }

        double qemu = mib / Median(results[2].Seconds);
        Console.WriteLine(string.Create(inv, $"ratio ours (offloads on) / qemu: {mib / Median(results[0].Seconds) / qemu:F2}; ours (offloads off) / qemu: {mib / Median(results[1].Seconds) / qemu:F2}"));

        var switched = OursOnSwitch(guest, mib, options.Runs);
        var user = QemuUserNetwork(guest, mib, options.Runs);
        Console.WriteLine();
        Console.WriteLine($"on an appliance network (VirtualNetwork: switch, DHCP, forward) vs qemu-system-riscv64 -netdev user (slirp, hostfwd); {mib} MiB, medians");
        Console.WriteLine("| path | ours MiB/s | qemu MiB/s | ours / qemu |");
        Console.WriteLine("| --- | --- | --- | --- |");
        Console.WriteLine(string.Create(inv, $"| VM to VM on one switch (qemu: -netdev socket, above) | {mib / Median(switched.VmToVm):F2} | {qemu:F2} | {mib / Median(switched.VmToVm) / qemu:F2} |"));
        foreach (var (path, ours, theirs) in new[] { ("host -> VM through a forward", switched.HostToVm, user.HostToVm), ("VM -> host through a forward", switched.VmToHost, user.VmToHost) })
        {
            Console.WriteLine(string.Create(inv, $"| {path} | {mib / Median(ours):F2} | {mib / Median(theirs):F2} | {Median(theirs) / Median(ours):F2} |"));
        }

        return 0;
    }

    private static (List<double> VmToVm, List<double> HostToVm, List<double> VmToHost) OursOnSwitch(DebianStockGuest guest, int mib, int runs)
    {
        using var network = new VirtualNetwork(new VirtualNetworkOptions { Name = "bench", Subnet = Ipv4Subnet.Parse("10.0.0.0/24") });
        var macA = MacAddress.Parse("52:54:00:00:0d:01");
        var macB = MacAddress.Parse("52:54:00:00:0d:02");
        using var a = NetworkedGuest.Boot("A", NetworkedGuest.Config(guest, "dhcp", new VmNic(macA, network.Attach("a", macA))));
        using var b = NetworkedGuest.Boot("B", NetworkedGuest.Config(guest, "dhcp", new VmNic(macB, network.Attach("b", macB))));
        string addressB = network.AddressOf("b")?.ToString() ?? throw new InvalidOperationException("guest B got no DHCP lease");
        int port = HostTransfer.FreePort();
        using var forward = network.AddForward("b", new ForwardSpec(System.Net.IPAddress.Loopback, port, 5000));
        a.Run($"ping -c 2 -W 5 {addressB}", Command);
        var vmToVm = new List<double>();
        var hostToVm = new List<double>();
        var vmToHost = new List<double>();
        for (int i = 0; i < runs; i++)
        {
            vmToVm.Add(ConsoleDrivenGuest.SendOverTcp(a, b, addressB, mib, Command));
            hostToVm.Add(HostTransfer.HostToGuest(b, port, mib));
            vmToHost.Add(HostTransfer.GuestToHost(b, port, mib));
        }

        return (vmToVm, hostToVm, vmToHost);
    }

    private static (List<double> HostToVm, List<double> VmToHost) QemuUserNetwork(DebianStockGuest guest, int mib, int runs)
    {
        int port = HostTransfer.FreePort();
        using var qemu = QemuNetworkedGuest.BootUserNetwork("qemu user", guest, "52:54:00:00:0e:01", port, 5000);
        var hostToVm = new List<double>();
        var vmToHost = new List<double>();
        for (int i = 0; i < runs; i++)
        {
            hostToVm.Add(HostTransfer.HostToGuest(qemu, port, mib));
            vmToHost.Add(HostTransfer.GuestToHost(qemu, port, mib));
        }

        return (hostToVm, vmToHost);
    }

    private static List<double> Ours(DebianStockGuest guest, bool offloads, int mib, int runs)
    {
        using var pair = new InMemoryLinkPair();
        using var a = NetworkedGuest.Boot("A", NetworkedGuest.Config(guest, "10.0.0.1/24", new VmNic(MacAddress.Parse("52:54:00:00:0b:01"), pair.A) { Offloads = offloads }));
        using var b = NetworkedGuest.Boot("B", NetworkedGuest.Config(guest, "10.0.0.2/24", new VmNic(MacAddress.Parse("52:54:00:00:0b:02"), pair.B) { Offloads = offloads }));
        return Transfers(a, b, mib, runs);
    }

    private static List<double> Qemu(DebianStockGuest guest, int mib, int runs)
    {
        int port = 20000 + Random.Shared.Next(20000);
        using var a = QemuNetworkedGuest.Boot("qemu A", guest, "10.0.0.1/24", "52:54:00:00:0c:01", port, listen: true);
        using var b = QemuNetworkedGuest.Boot("qemu B", guest, "10.0.0.2/24", "52:54:00:00:0c:02", port, listen: false);
        return Transfers(a, b, mib, runs);
    }

    private static List<double> Transfers(ConsoleDrivenGuest a, ConsoleDrivenGuest b, int mib, int runs)
    {
        a.Run("ping -c 2 -W 5 10.0.0.2", Command);
        var seconds = new List<double>();
        for (int i = 0; i < runs; i++)
        {
            seconds.Add(ConsoleDrivenGuest.SendOverTcp(a, b, "10.0.0.2", mib, Command));
        }

        return seconds;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }
}
