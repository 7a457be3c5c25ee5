using System.Diagnostics;
using System.Globalization;
using Backup.Engine.Backups;
using Backup.Engine.Recovery;
using Backup.Engine.Restores;
using Backup.Engine.Running;
using Backup.Engine.Vms;
using Backup.Repository;
using Backup.Repository.Backends.Local;
using Backup.TestSupport;

namespace Backup.Benchmarks;

/// <summary>
/// RTO of instant recovery against full restore-then-boot, in one run on one restore point: the realistic guest
/// (ext4 server with the SQLite workload) at the given RAM size is backed up while it runs into a local repository;
/// then, each run: resume (to the first guest instruction), cold instant recovery (to `guest: ready`) and a full
/// restore of both disks followed by a boot (to `guest: ready`). The repository is opened (passphrase KDF, index)
/// once per run and reported apart, as a running appliance keeps it open. --size-gib N adds a disk of N GiB of
/// incompressible data, as a production VM's bigger disks (what restore-then-boot has to copy first).
/// </summary>
public static class RecoveryBenchmark
{
    private const string Passphrase = "recovery benchmark";

    public static int Run(BenchmarkOptions options)
    {
        var inv = CultureInfo.InvariantCulture;
        ulong memory = options.MemoryMiB < 128 ? 256 : options.MemoryMiB;
        string work = options.Work ?? Directory.CreateTempSubdirectory("rto-bench-").FullName;
        Directory.CreateDirectory(work);
        try
        {
            var guest = RealisticGuest.Locate();
            var (root, data) = guest.CopyDisks(work);
            var disks = new List<VmDiskDefinition> { new() { Path = root }, new() { Path = data } };
            if (options.SizeGib > 0)
            {
                // A bigger VM: an extra disk of incompressible data (the guest sees it as /dev/vdc and leaves it alone).
                string extra = Path.Combine(work, "extra.img");
                using var file = File.Create(extra);
                var random = new Random(6);
                var block = new byte[1 << 20];
                for (long i = 0; i < (long)(options.SizeGib * 1024); i++)
                {
                    random.NextBytes(block);
                    file.Write(block);
                }

                disks.Add(new VmDiskDefinition { Path = extra });
            }

            var definition = new VmDefinition
            {
                Name = "demo",
                Kernel = RealisticGuest.KernelPath,
                Disks = disks,
                MemoryBytes = memory << 20,
                CommandLine = guest.CommandLine,
                AgentChannel = true,
            };
            string repoPath = Path.Combine(work, "repository");
            BackupRepository.InitAsync(new LocalFolderBackend(repoPath), Passphrase).GetAwaiter().GetResult().Dispose();
            string pointId;
            long stateBytes;
            using (var repository = BackupRepository.OpenAsync(new LocalFolderBackend(repoPath), Passphrase).GetAwaiter().GetResult())
            using (var tap = new ConsoleTap(null))
            using (var vm = ManagedVm.Boot(definition, Path.Combine(work, "state"), tap))
            {
                vm.Ready.Wait(TimeSpan.FromMinutes(3));
                Thread.Sleep(TimeSpan.FromSeconds(5)); // the workload commits rows
                var result = VmBackupRunner.BackupAsync(vm, repository, new BackupRequest { WorkDirectory = Path.Combine(work, "work") }).GetAwaiter().GetResult();
                pointId = result.PointId;
                stateBytes = repository.ReadManifestAsync(pointId).GetAwaiter().GetResult().Streams.Single(s => s.Name == PointStreams.MemoryState).Length;
            }

            long diskBytes = definition.Disks.Sum(d => new FileInfo(d.Path).Length);
            Console.Error.WriteLine($"restore point {pointId}: {memory} MiB RAM, memory state stream {stateBytes >> 20} MiB, disks {diskBytes >> 20} MiB");
            var open = new List<double>();
            var resume = new List<double>();
            var resumePrepared = new List<double>();
            var cold = new List<double>();
            var full = new List<double>();
            var fullRestore = new List<double>();
            for (int run = 0; run < options.Runs; run++)
            {
                var clock = Stopwatch.StartNew();
                using var repository = BackupRepository.OpenAsync(new LocalFolderBackend(repoPath), Passphrase).GetAwaiter().GetResult();
                open.Add(clock.Elapsed.TotalMilliseconds);

                using (var tap = new ConsoleTap(null))
                {
                    var since = Stopwatch.StartNew();
                    using var recovered = InstantRecovery.StartAsync(repository, new RecoveryRequest
                    {
                        PointId = pointId, Resume = true, Directory = Path.Combine(work, "resumed"),
                    }, tap, since: since).GetAwaiter().GetResult();
                    resume.Add(recovered.Vm.Started.WaitAsync(TimeSpan.FromMinutes(1)).GetAwaiter().GetResult().TotalMilliseconds);
                    resumePrepared.Add(recovered.Prepared.TotalMilliseconds);
                    recovered.Vm.Machine.Agent!.PingAsync(TimeSpan.FromSeconds(30)).GetAwaiter().GetResult(); // it really runs
                }

                using (var tap = new ConsoleTap(null))
                {
                    var since = Stopwatch.StartNew();
                    using var recovered = InstantRecovery.StartAsync(repository, new RecoveryRequest
                    {
                        PointId = pointId, Directory = Path.Combine(work, "cold"),
                    }, tap, since: since).GetAwaiter().GetResult();
                    cold.Add(recovered.Vm.Ready.WaitAsync(TimeSpan.FromMinutes(3)).GetAwaiter().GetResult().TotalMilliseconds);
                }

                using (var tap = new ConsoleTap(null))
                {
                    var since = Stopwatch.StartNew();
                    string target = Path.Combine(work, "restored");
                    Directory.CreateDirectory(target);
                    var restoredDisks = new List<VmDiskDefinition>();
                    for (int i = 0; i < definition.Disks.Count; i++)
                    {
                        string file = Path.Combine(target, $"disk{i}.img");
                        DiskRestorer.RestoreAsync(repository, pointId, PointStreams.Disk(i), file).GetAwaiter().GetResult();
                        restoredDisks.Add(new VmDiskDefinition { Path = file });
                    }

                    string kernel = Path.Combine(target, "kernel");
                    using (var output = File.Create(kernel))
                    {
                        repository.OpenPointAsync(pointId).GetAwaiter().GetResult().RestoreStreamAsync(PointStreams.Kernel, output).GetAwaiter().GetResult();
                    }

                    fullRestore.Add(since.Elapsed.TotalMilliseconds);
                    using var vm = ManagedVm.Boot(definition with { Kernel = kernel, Disks = restoredDisks }, Path.Combine(target, "state"), tap, since: since);
                    full.Add(vm.Ready.WaitAsync(TimeSpan.FromMinutes(3)).GetAwaiter().GetResult().TotalMilliseconds);
                }
            }

            double m(List<double> v) => v.Order().ElementAt(v.Count / 2);
            Console.WriteLine($"| recovery ({memory} MiB RAM, {diskBytes >> 20} MiB of disks, local repository, median of {options.Runs}) | RTO | vs restore-then-boot |");
            Console.WriteLine("| --- | --- | --- |");
            Console.WriteLine(string.Create(inv, $"| instant recovery, resume: to first guest instruction | {m(resume):F1} ms (point prepared at {m(resumePrepared):F1} ms) | {m(full) / m(resume):F0}x faster |"));
            Console.WriteLine(string.Create(inv, $"| instant recovery, cold: to `guest: ready` | {m(cold):F0} ms | {m(full) / m(cold):F1}x faster |"));
            Console.WriteLine(string.Create(inv, $"| full restore of every disk, then boot: to `guest: ready` | {m(full):F0} ms (restore {m(fullRestore):F0} ms) | 1x |"));
            Console.WriteLine(string.Create(inv, $"| (before each: open the repository: passphrase KDF and index) | {m(open):F0} ms | |"));
            return 0;
        }
        finally
        {
            if (options.Work is null)
            {
                Directory.Delete(work, recursive: true);
            }
        }
    }
}
