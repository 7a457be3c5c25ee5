using System.Diagnostics;
using System.Globalization;
using System.Text;
using Backup.Disks.BlockDevices;
using Backup.Disks.Snapshots;
using Backup.Hypervisor.Machine;

namespace Backup.Benchmarks;

/// <summary>
/// Stun time of checkpoints (how long the guest is paused: from the moment the VM thread stops running guest code for
/// the cut until it runs again) of the running Linux guest at several RAM sizes, with two <see cref="TrackedDisk"/>s
/// whose point-in-time snapshots are cut inside the same pause: one full checkpoint after boot, then incrementals while
/// it runs. Each cut's disk snapshots are completed (as a backup would) and released before the next. Also the
/// background capture time and file sizes.
/// </summary>
public static class CheckpointBenchmark
{
    private static readonly long[] DiskSizes = [4L << 30, 16L << 30];

    public static int Run(BenchmarkOptions options)
    {
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(inv, $"runs per row: {options.Runs}; disks: {DiskSizes.Length} tracked raw images ({string.Join(" + ", DiskSizes.Select(s => $"{s >> 30} GiB"))}, sparse, 64 KiB granularity); load average at start: {LoadAverage()}"));
        Console.WriteLine("| RAM | checkpoint | stun median | stun p99 | stun max | of which disk cuts (median) | pages saved | capture time | file size |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (ulong mib in new ulong[] { 256, 2048 })
        {
            string dir = Directory.CreateTempSubdirectory("checkpoint-bench-").FullName;
            var disks = new List<TrackedDisk>();
            try
            {
                for (int d = 0; d < DiskSizes.Length; d++)
                {
                    string image = Path.Combine(dir, $"disk{d}.img");
                    RawFileDisk.Create(image, DiskSizes[d]).Dispose();
                    disks.Add(TrackedDisk.Open(RawFileDisk.Open(image), new TrackedDiskOptions { ImagePath = image }));
                }

                if (!RunOne(options, mib, dir, disks, inv))
                {
                    return 1;
                }
            }
            finally
            {
                foreach (var disk in disks)
                {
                    disk.Dispose();
                }

                Directory.Delete(dir, recursive: true);
            }
        }

        Console.WriteLine(string.Create(inv, $"load average at end: {LoadAverage()}"));
        return 0;
    }

    private static bool RunOne(BenchmarkOptions options, ulong mib, string dir, IReadOnlyList<TrackedDisk> disks, CultureInfo inv)
    {
        using var ready = new ManualResetEventSlim();
        var text = new StringBuilder();
        var config = new VmConfiguration
        {
            KernelPath = options.KernelPath,
            MemorySize = mib << 20,
            CommandLine = "console=ttyS0 guest.heartbeat=1",
            Disks = [.. disks],
        };
        using var vm = new VirtualMachine(config, b =>
        {
            lock (text)
            {
                text.Append((char)b);
                if (b == '\n' && text.ToString().Contains("guest: ready", StringComparison.Ordinal))
                {
                    ready.Set();
                }
            }
        });
        vm.Start();
        if (!ready.Wait(TimeSpan.FromMinutes(3)))
        {
            lock (text)
            {
                Console.Error.WriteLine($"checkpoint benchmark: the {mib} MiB guest did not print 'guest: ready' within 3 minutes; console:\n{text}");
            }

            vm.RequestStop();
            vm.WaitForExit();
            return false;
        }

        // One cut before measuring, not counted: the first checkpoint of a process also compiles (JIT) the checkpoint
        // code, a one-time cost per appliance process rather than per VM or per cut.
        string warmUp = Path.Combine(dir, "warm-up.vmstate");
        var first = vm.Checkpoint(warmUp, incremental: false);
        first.Completion.Wait();
        foreach (var snapshot in first.Disks)
        {
            snapshot?.CompleteBackup();
            snapshot?.Dispose();
        }

        File.Delete(warmUp);
        for (int kind = 0; kind < 2; kind++)
        {
            var stuns = new List<double>();
            var diskCuts = new List<double>();
            long pages = 0, bytes = 0;
            double capture = 0;
            for (int i = 0; i < options.Runs; i++)
            {
                string path = Path.Combine(dir, $"cut-{kind}-{i}.vmstate");
                var started = Stopwatch.StartNew();
                var cut = vm.Checkpoint(path, incremental: kind == 1);
                cut.Completion.Wait();
                capture += started.Elapsed.TotalMilliseconds;
                foreach (var snapshot in cut.Disks)
                {
                    if (snapshot is null)
                    {
                        throw new InvalidOperationException("a tracked disk got no snapshot at the cut");
                    }

                    snapshot.CompleteBackup();
                    snapshot.Dispose();
                }

                stuns.Add(cut.StunTime.TotalMilliseconds);
                diskCuts.Add(cut.DiskCutTime.TotalMilliseconds);
                pages += cut.PagesToSave;
                bytes += new FileInfo(path).Length;
                File.Delete(path);
                Thread.Sleep(200);
            }

            stuns.Sort();
            double p99 = stuns[Math.Max(0, (int)Math.Ceiling(0.99 * stuns.Count) - 1)]; // nearest rank: the maximum below 100 runs
            Console.WriteLine(string.Create(inv,
                $"| {mib} MiB | {(kind == 0 ? "full" : "incremental")} | {Median(stuns):F3} ms | {p99:F3} ms | {stuns[^1]:F3} ms | {Median(diskCuts):F3} ms | {pages / options.Runs} | {capture / options.Runs:F1} ms | {bytes / options.Runs / 1024} KiB |"));
        }

        vm.RequestStop();
        vm.WaitForExit();
        return true;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        int mid = sorted.Count / 2;
        return sorted.Count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    private static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
    }
}
