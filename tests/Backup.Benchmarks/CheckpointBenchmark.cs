using System.Diagnostics;
using System.Globalization;
using System.Text;
using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Timing;

namespace Backup.Benchmarks;

/// <summary>
/// Stun time of checkpoints (how long the guest is paused) of the running Linux guest at several RAM sizes:
/// one full checkpoint after boot, then incrementals while it runs; plus the background capture time and file sizes.
/// </summary>
public static class CheckpointBenchmark
{
    public static int Run(BenchmarkOptions options)
    {
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine("| RAM | checkpoint | stun (median of runs) | stun (max) | pages saved | capture time | file size |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- |");
        foreach (ulong mib in new ulong[] { 256, 2048 })
        {
            string dir = Directory.CreateTempSubdirectory("checkpoint-bench-").FullName;
            try
            {
                var ready = new ManualResetEventSlim();
                var text = new StringBuilder();
                var config = new VmConfiguration
                {
                    KernelPath = options.KernelPath,
                    MemorySize = mib << 20,
                    CommandLine = "console=ttyS0 guest.heartbeat=1",
                };
                using var vm = new VirtualMachine(config, b =>
                {
                    text.Append((char)b);
                    if (b == '\n' && text.ToString().Contains("guest: ready", StringComparison.Ordinal))
                    {
                        ready.Set();
                    }
                });
                vm.Start();
                ready.Wait(TimeSpan.FromMinutes(2));
                for (int kind = 0; kind < 2; kind++)
                {
                    var stuns = new List<double>();
                    long pages = 0, bytes = 0;
                    double capture = 0;
                    for (int i = 0; i < options.Runs; i++)
                    {
                        string path = Path.Combine(dir, $"cut-{kind}-{i}.vmstate");
                        var started = Stopwatch.StartNew();
                        var cut = vm.Checkpoint(path, incremental: kind == 1);
                        cut.Completion.Wait();
                        capture += started.Elapsed.TotalMilliseconds;
                        stuns.Add(cut.StunTime.TotalMilliseconds);
                        pages += cut.PagesToSave;
                        bytes += new FileInfo(path).Length;
                        Thread.Sleep(200);
                    }

                    stuns.Sort();
                    Console.WriteLine(string.Create(inv,
                        $"| {mib} MiB | {(kind == 0 ? "full" : "incremental")} | {stuns[stuns.Count / 2]:F3} ms | {stuns[^1]:F3} ms | {pages / options.Runs} | {capture / options.Runs:F1} ms | {bytes / options.Runs / 1024} KiB |"));
                }

                vm.RequestStop();
                vm.WaitForExit();
            }
            finally
            {
                Directory.Delete(dir, recursive: true);
            }
        }

        return 0;
    }
}
