using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Backup.Cli.Terminal;
using Backup.Engine.Backups;
using Backup.Engine.Recovery;
using Backup.Engine.Restores;
using Backup.Engine.Running;
using Backup.Service.Api;
using Backup.Service.Catalog;
using Backup.Service.Data;
using Backup.Service.Hosting;
using Backup.Service.Jobs;
using Backup.Service.Repositories;
using Backup.Service.Scheduling;
using Backup.Service.Vms;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Backup.Cli.Commands;

/// <summary>
/// The operator's commands: `backup backup NAME` (now), `backup points`, `backup jobs`, `backup restore`,
/// `backup recover` (instant recovery) and `backup catalog rebuild`. Backups go through the running service when
/// there is one (it owns the VMs); otherwise this process takes the data folder's lock and backs the stopped VM
/// up cold. Reading (points, restore, recover) needs no lock: restore points are immutable.
/// </summary>
internal static class ProtectionCommands
{
    /// <summary>
    /// The "backup now" command's name. `backup backup VM` is what operators type; System.CommandLine cannot have a
    /// subcommand named like the root command, so <see cref="Program"/> maps a leading "backup" to this.
    /// </summary>
    public const string BackupNowName = "backup-now";

    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static IEnumerable<Command> Create() => [BackupNow(), Points(), Jobs(), Restore(), Recover(), Catalog()];

    private static Command BackupNow()
    {
        var name = new Argument<string>("vm") { Description = "the VM to back up" };
        var repo = new Option<string?>("--repo") { Description = "repository URL (default: the policy covering the VM, else the data folder's repository)" };
        var passphrase = new Option<string?>("--passphrase-source") { Description = "with --repo: default, env:VARIABLE or file:PATH" };
        var consistency = new Option<string?>("--consistency") { Description = "crash or application (default: the policy's, else crash)" };
        var command = new Command(BackupNowName, "Back a VM up now (also `backup backup VM`): a crash-consistent cut of a running VM, or its disks if it is stopped") { name, repo, passphrase, consistency };
        command.SetAction(parse => ApplianceCommand.Run(async () =>
        {
            var data = ApplianceCommand.Resolve(parse);
            string vm = parse.GetValue(name)!;
            string? mode = parse.GetValue(consistency);
            if (mode is not null and not "crash" and not "application")
            {
                throw new UsageException($"--consistency '{mode}' is neither crash nor application");
            }

            BackupReply reply;
            using (var service = await ServiceClient.TryConnect(data).ConfigureAwait(false))
            {
                if (service is not null)
                {
                    Console.Error.WriteLine($"backing up {vm} through the appliance service...");
                    reply = await service.BackupAsync(vm, new BackupCommand(parse.GetValue(repo), parse.GetValue(passphrase), mode)).ConfigureAwait(false);
                    return Print(vm, reply);
                }
            }

            using var folder = DataFolderLock.Acquire(data, $"backup backup {vm}");
            using var catalog = ApplianceCatalog.Open(data.CatalogPath);
            var store = new VmStore(data);
            var definition = store.Get(vm);
            var plans = PolicyPlans.Load(data.PoliciesDirectory, data, required: false);
            var order = BackupOrders.ForVm(plans, vm, "cli", parse.GetValue(repo), parse.GetValue(passphrase),
                mode is null ? null : mode == "application" ? BackupConsistency.Application : BackupConsistency.Crash);
            var coordinator = new BackupCoordinator(data, store, catalog, null, new RepositoryAccess(data), NullLogger.Instance);
            long total = definition.Disks.Sum(d => new FileInfo(d.Path).Exists ? new FileInfo(d.Path).Length : 0);
            var outcome = await ProgressReporter.RunAsync($"backup {vm} (stopped: disks only)", total, bytes: true,
                progress => coordinator.RunAsync(order, progress)).ConfigureAwait(false);
            return Print(vm, ApplianceHost.ToReply(outcome));
        }));
        return command;
    }

    private static int Print(string vm, BackupReply reply)
    {
        if (reply.Status != JobStatus.Succeeded || reply.Point is null)
        {
            Console.Error.WriteLine($"backup: backup of {vm} {reply.Status} (job {reply.Job}): {reply.Message}");
            return 1;
        }

        Console.WriteLine($"restore point {reply.Point} of {vm} committed (job {reply.Job})");
        Console.WriteLine(string.Create(Invariant,
            $"  {reply.Consistency}-consistent, guest paused {reply.StunMilliseconds:F2} ms; {ProgressReporter.Format(reply.ChangedBytes, true)} of {ProgressReporter.Format(reply.DiskBytes, true)} changed, {ProgressReporter.Format(reply.UploadedBytes, true)} uploaded in {reply.Seconds:F1} s"));
        Console.WriteLine($"  incremental to: {reply.Parent ?? "(none: the first point)"}");
        if (reply.ConsistencyNote is not null)
        {
            Console.WriteLine($"  note: {reply.ConsistencyNote}");
        }

        foreach (string full in reply.FullReads ?? [])
        {
            Console.WriteLine($"  read in full: {full}");
        }

        return 0;
    }

    private static Command Points()
    {
        var name = new Argument<string?>("vm") { Description = "only this VM's points", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("points", "List restore points (from the catalog), oldest first") { name };
        command.SetAction(parse => ApplianceCommand.Run(() =>
        {
            var data = ApplianceCommand.Resolve(parse);
            using var catalog = ApplianceCatalog.Open(data.CatalogPath);
            var points = catalog.ListPoints(parse.GetValue(name));
            if (points.Count == 0)
            {
                Console.WriteLine("no restore points (make one with `backup backup VM`; `backup catalog rebuild` re-reads the repositories)");
                return Task.FromResult(0);
            }

            Console.WriteLine($"{"ID",-26} {"VM",-14} {"TIME (UTC)",-20} {"KIND",-12} {"RESUME",6} {"DISKS",10} {"CHANGED",10}  REPOSITORY");
            foreach (var p in points)
            {
                Console.WriteLine(string.Create(Invariant,
                    $"{p.Id,-26} {p.Vm,-14} {p.Time.UtcDateTime,-20:yyyy-MM-dd HH:mm:ss} {p.Consistency ?? "?",-12} {(p.HasMemoryState ? "yes" : "no"),6} {ProgressReporter.Format(p.DiskBytes, true),10} {ProgressReporter.Format(p.ChangedBytes, true),10}  {p.Repository}"));
                if (p.ConsistencyNote is not null)
                {
                    Console.WriteLine($"{string.Empty,-26} note: {p.ConsistencyNote}");
                }

            }

            return Task.FromResult(0);
        }));
        return command;
    }

    private static Command Jobs()
    {
        var name = new Argument<string?>("vm") { Description = "only this VM's jobs", Arity = ArgumentArity.ZeroOrOne };
        var limit = new Option<int>("--limit") { Description = "how many of the newest jobs", DefaultValueFactory = _ => 20 };
        var command = new Command("jobs", "Show the job history (newest first)") { name, limit };
        command.SetAction(parse => ApplianceCommand.Run(() =>
        {
            var data = ApplianceCommand.Resolve(parse);
            using var catalog = ApplianceCatalog.Open(data.CatalogPath);
            foreach (var job in catalog.ListJobs(parse.GetValue(limit), parse.GetValue(name)))
            {
                string duration = job.Ended is { } ended ? string.Create(Invariant, $"{(ended - job.Started).TotalSeconds:F1} s") : "-";
                Console.WriteLine(string.Create(Invariant,
                    $"{job.Id,5} {job.Started.UtcDateTime:yyyy-MM-dd HH:mm:ss} {job.Kind,-7} {job.Vm,-14} {job.Status,-11} {duration,8} {job.Trigger}{(job.Policy is null ? string.Empty : " " + job.Policy)}: {job.Message}"));
            }

            return Task.FromResult(0);
        }));
        return command;
    }

    private static Command Restore()
    {
        var point = new Argument<string>("point") { Description = "restore point id (or a unique prefix of 6+ characters, or VM:latest)" };
        var to = new Option<FileInfo>("--to") { Description = "file to write the disk image to", Required = true };
        var disk = new Option<int>("--disk") { Description = "which disk of the VM (0 = its first)", DefaultValueFactory = _ => 0 };
        var force = new Option<bool>("--force") { Description = "overwrite the target file if it exists" };
        var command = new Command("restore", "Restore a disk of a restore point to a file (full, verified while read)") { point, to, disk, force };
        command.SetAction(parse => ApplianceCommand.Run(async () =>
        {
            var data = ApplianceCommand.Resolve(parse);
            var target = parse.GetValue(to)!;
            if (target.Exists && !parse.GetValue(force))
            {
                throw new UsageException($"{target.FullName} exists; give --force to overwrite it");
            }

            PointRecord record;
            using (var catalog = ApplianceCatalog.Open(data.CatalogPath))
            {
                record = catalog.FindPoint(parse.GetValue(point)!);
            }

            using var repository = await new RepositoryAccess(data).OpenAsync(record.Repository, record.PassphraseSource).ConfigureAwait(false);
            var manifest = await repository.ReadManifestAsync(record.Id).ConfigureAwait(false);
            string diskName = PointStreams.Disk(parse.GetValue(disk));
            var diskManifest = manifest.Disks.FirstOrDefault(d => d.Name == diskName)
                ?? throw new UsageException($"restore point {record.Id} has no disk {parse.GetValue(disk)} (it has {manifest.Disks.Count})");
            var clock = Stopwatch.StartNew();
            long length = await ProgressReporter.RunAsync($"restore {record.Vm} {diskName}", diskManifest.Length, bytes: true,
                progress => DiskRestorer.RestoreAsync(repository, record.Id, diskName, target.FullName, progress)).ConfigureAwait(false);
            Console.WriteLine(string.Create(Invariant,
                $"restored {diskName} of {record.Vm} at {record.Time.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC ({record.Id}) to {target.FullName}: {ProgressReporter.Format(length, true)} in {clock.Elapsed.TotalSeconds:F1} s"));
            return 0;
        }));
        return command;
    }

    private static Command Recover()
    {
        var point = new Argument<string>("point") { Description = "restore point id (or a unique prefix of 6+ characters, or VM:latest)" };
        var name = new Option<string?>("--as") { Description = "name of the recovered VM (default: the original name)" };
        var resume = new Option<bool>("--resume") { Description = "continue from the point's memory and device state instead of booting" };
        var exitWhenReady = new Option<bool>("--exit-when-ready") { Description = "stop the VM once the RTO is measured (drills, benchmarks)" };
        var cacheSize = new Option<string>("--cache-size") { Description = "local on-disk cache of the chunks the VM reads (0 = none)", DefaultValueFactory = _ => "2G" };
        var command = new Command("recover", "Instant recovery: boot a VM straight from a restore point (disks read lazily, writes to a local overlay) and print the RTO")
        {
            point, name, resume, exitWhenReady, cacheSize,
        };
        command.SetAction(parse => ApplianceCommand.Run(async () =>
        {
            var clock = Stopwatch.StartNew();
            var data = ApplianceCommand.Resolve(parse);
            PointRecord record;
            using (var catalog = ApplianceCatalog.Open(data.CatalogPath))
            {
                record = catalog.FindPoint(parse.GetValue(point)!);
            }

            string vmName = parse.GetValue(name) ?? record.Vm;
            if (!Engine.Vms.VmDefinition.IsValidName(vmName))
            {
                throw new UsageException($"'{vmName}' is not a valid VM name");
            }

            bool wantResume = parse.GetValue(resume);
            string directory = Path.Combine(data.RecoveredDirectory, vmName);
            Directory.CreateDirectory(data.RecoveredDirectory);
            using var recoveryLock = LockRecovery(directory + ".lock", vmName);
            using var repository = await new RepositoryAccess(data).OpenAsync(record.Repository, record.PassphraseSource).ConfigureAwait(false);
            var opened = clock.Elapsed;
            using var tap = new ConsoleTap(Path.Combine(data.RecoveredDirectory, vmName + ".console.log"));
            using var sink = new ConsoleOutputSink(Console.OpenStandardOutput());
            bool quiet = parse.GetValue(exitWhenReady);
            using var subscription = quiet ? null : tap.Attach(bytes => sink.Write(bytes), out _);
            using var chunkCache = OpenChunkCache(Path.Combine(data.RecoveredDirectory, vmName + ".cache"), parse.GetValue(cacheSize));
            var networkStore = new Service.Networks.NetworkStore(data);
            using var labNetworks = Engine.Networks.NetworkFabric.Isolated(networkStore.Get, data.NetworkLeasesPath, Path.Combine(data.RecoveredDirectory, vmName + ".networks"));
            using var recovered = await InstantRecovery.StartAsync(repository, new RecoveryRequest
            {
                Networks = labNetworks,
                PointId = record.Id,
                Name = vmName,
                Resume = wantResume,
                Directory = directory,
                DiskCache = chunkCache,
            }, tap, message => Console.Error.WriteLine($"[vm] {message}"), clock).ConfigureAwait(false);
            var vm = recovered.Vm;
            TimeSpan rto;
            string milestone;
            if (wantResume)
            {
                rto = await vm.Started.ConfigureAwait(false);
                milestone = "first guest instruction (resumed)";
            }
            else
            {
                var ready = await Task.WhenAny(vm.Ready, vm.Exited).ConfigureAwait(false);
                if (ready != vm.Ready || !vm.Ready.IsCompletedSuccessfully)
                {
                    var exit = await vm.Exited.ConfigureAwait(false);
                    throw new InvalidOperationException($"the recovered VM stopped before `guest: ready`: {exit.Message}");
                }

                rto = await vm.Ready.ConfigureAwait(false);
                milestone = "`guest: ready` (cold boot)";
            }

            var firstInstruction = await vm.Started.ConfigureAwait(false);
            Console.Error.WriteLine(string.Create(Invariant,
                $"[recover] {vmName} from {record.Id} ({record.Time.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC): RTO {rto.TotalMilliseconds:F1} ms to {milestone}; repository opened in {opened.TotalMilliseconds:F0} ms, point prepared at {recovered.Prepared.TotalMilliseconds:F1} ms, first instruction at {firstInstruction.TotalMilliseconds:F1} ms"));
            Console.Error.WriteLine($"[recover] disks read lazily from {record.Repository}; writes go to {directory}");
            if (quiet)
            {
                return 0;
            }

            Console.Error.WriteLine("[recover] the console is yours; Ctrl-C stops the recovered VM");
            Console.CancelKeyPress += (_, e) =>
            {
                e.Cancel = true;
                vm.Machine.RequestStop("interrupted (Ctrl-C)");
            };
            KeyboardForwarder.Start(bytes => vm.SendInput(bytes));
            var stopped = await vm.Exited.ConfigureAwait(false);
            sink.Flush();
            Console.Error.WriteLine($"[recover] {vmName} stopped: {stopped.Message}");
            return 0;
        }));
        return command;
    }

    private static Repository.Reading.DiskChunkCache? OpenChunkCache(string directory, string? size)
    {
        if (!SizeParser.TryParse(size ?? "2G", out ulong bytes, defaultShift: 20))
        {
            throw new UsageException($"--cache-size '{size}' is not a size (examples: 512M, 2G, 0)");
        }

        if (bytes == 0)
        {
            return null;
        }

        try
        {
            return new Repository.Reading.DiskChunkCache(directory, (long)bytes);
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"[recover] no on-disk chunk cache: {e.Message}");
            return null;
        }
    }

    private static FileStream LockRecovery(string path, string name)
    {
        try
        {
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            throw new InvalidOperationException($"a recovered VM named '{name}' is already running; choose another name with --as");
        }
    }

    private static Command Catalog()
    {
        var rebuild = new Command("rebuild", "Re-read the repositories (the source of truth) and rebuild the catalog's restore points");
        var repos = new Option<string[]>("--repo") { Description = "also read this repository (URL; repeatable)" };
        var passphrase = new Option<string?>("--passphrase-source") { Description = "passphrase of the --repo repositories: default, env:VARIABLE or file:PATH" };
        rebuild.Options.Add(repos);
        rebuild.Options.Add(passphrase);
        rebuild.SetAction(parse => ApplianceCommand.Run(async () =>
        {
            var data = ApplianceCommand.Resolve(parse);
            using var folder = DataFolderLock.Acquire(data, "backup catalog rebuild");
            using var catalog = ApplianceCatalog.Open(data.CatalogPath);
            var access = new RepositoryAccess(data);
            var sources = new Dictionary<string, string>(StringComparer.Ordinal);
            void Add(string url, string source) => sources.TryAdd(access.Normalize(url), source);
            foreach (var p in catalog.ListPoints())
            {
                Add(p.Repository, p.PassphraseSource);
            }

            foreach (var plan in PolicyPlans.Load(data.PoliciesDirectory, data, required: false))
            {
                Add(plan.Repository, plan.PassphraseSource);
            }

            if (File.Exists(Path.Combine(data.DefaultRepository, "config")))
            {
                Add(data.DefaultRepository, RepositoryAccess.DefaultPassphrase);
            }

            foreach (string url in parse.GetValue(repos) ?? [])
            {
                Add(url, parse.GetValue(passphrase) ?? RepositoryAccess.DefaultPassphrase);
            }

            int failures = 0;
            foreach (var (url, source) in sources)
            {
                try
                {
                    var rows = await CatalogRebuilder.ReadAsync(access, url, source).ConfigureAwait(false);
                    catalog.ReplacePoints(url, rows);
                    Console.WriteLine($"{url}: {rows.Count} restore points");
                }
                catch (Exception e) when (e is IOException or InvalidOperationException or Repository.Errors.WrongPassphraseException or Repository.Errors.RepositoryCorruptException or ArgumentException)
                {
                    failures++;
                    Console.Error.WriteLine($"backup: {url}: not rebuilt: {e.Message}");
                }
            }

            return failures == 0 ? 0 : 1;
        }));
        return new Command("catalog", "The appliance's catalog of restore points and jobs") { rebuild };
    }
}
