using System.Globalization;
using Backup.Hypervisor.Machine;
using Backup.Network.Ethernet;
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
        return 0;
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
