using System.CommandLine;
using System.Globalization;
using Backup.Repository;
using Backup.Repository.Backends;
using Backup.Repository.Errors;
using Backup.Repository.Locks;
using Backup.Repository.Maintenance;
using Backup.Repository.Verification;

namespace Backup.Cli.Commands;

/// <summary>
/// `backup repo ...`: create, inspect, fill, restore from, verify and maintain a backup repository.
/// Exit codes: 0 success; 1 operational failure (damage found, repository locked, I/O error); 2 bad input
/// (usage, missing repository, wrong passphrase, missing file).
/// </summary>
public static class RepoCommands
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    private static readonly Option<string> Repo = new("--repo") { Description = "repository: folder path (s3://bucket/prefix and azure://container/prefix soon)", Required = true };
    private static readonly Option<FileInfo?> PasswordFile = new("--password-file") { Description = $"read the passphrase from the first line of this file (else ${PassphraseReader.Variable}, else a prompt)" };

    public static Command Create() => new("repo", "Backup repository: init, put, get, points, verify, forget, gc, copy, locks")
    {
        Init(), Info(), Points(), Put(), Get(), Verify(), Forget(), Gc(), Copy(), Locks(),
    };

    private static Command Init()
    {
        var command = new Command("init", "Create a new, empty, encrypted repository") { Repo, PasswordFile };
        command.SetAction(parse => Run(async () =>
        {
            var backend = RepositoryLocator.Open(parse.GetValue(Repo)!, mustExist: false);
            if (await backend.ExistsAsync(BackupRepository.ConfigKey).ConfigureAwait(false))
            {
                throw new UsageException($"{backend.Location} already holds a repository");
            }

            var passphrase = PassphraseReader.Read(parse.GetValue(PasswordFile), PassphraseReader.Variable, "New repository passphrase: ", confirm: true);
            using var repository = await BackupRepository.InitAsync(backend, passphrase).ConfigureAwait(false);
            Console.WriteLine($"created repository {repository.Config.RepositoryId} at {backend.Location}");
            return 0;
        }));
        return command;
    }

    private static Command Info()
    {
        var command = new Command("info", "Show the repository's configuration, size and locks") { Repo, PasswordFile };
        command.SetAction(parse => Run(async () =>
        {
            using var repository = await OpenAsync(parse).ConfigureAwait(false);
            var points = await repository.ListPointsAsync().ConfigureAwait(false);
            var locks = await repository.ListLocksAsync().ConfigureAwait(false);
            var config = repository.Config;
            long stored = 0;
            var objects = 0;
            await foreach (var item in repository.Backend.ListAsync(string.Empty).ConfigureAwait(false))
            {
                stored += item.Length;
                objects++;
            }

            Console.WriteLine($"repository   {config.RepositoryId} at {repository.Backend.Location}");
            Console.WriteLine($"format       {config.Format} version {config.Version}, created {config.Created:u}");
            Console.WriteLine($"chunking     disks {ProgressReporter.Format(config.DiskChunkSize, true)} fixed; streams {ProgressReporter.Format(config.StreamChunkMin, true)}/{ProgressReporter.Format(config.StreamChunkAverage, true)}/{ProgressReporter.Format(config.StreamChunkMax, true)} content-defined; packs {ProgressReporter.Format(config.PackTargetSize, true)}");
            Console.WriteLine($"points       {points.Count} ({points.Count(p => p.Problem is not null)} unreadable), VMs: {string.Join(", ", points.Select(p => p.Vm).OfType<string>().Distinct())}");
            Console.WriteLine($"stored       {ProgressReporter.Format(stored, true)} in {objects} objects; {repository.Index.Packs.Count} packs, {repository.Index.BlobCount} blobs");
            Console.WriteLine($"logical      {ProgressReporter.Format(points.Sum(p => p.TotalDiskBytes), true)} of disks");
            PrintLocks(locks, new LockOptions().StaleAfter);
            return 0;
        }));
        return command;
    }

    private static Command Points()
    {
        var vm = new Option<string?>("--vm") { Description = "only this VM's points" };
        var command = new Command("points", "List restore points, oldest first") { Repo, PasswordFile, vm };
        command.SetAction(parse => Run(async () =>
        {
            using var repository = await OpenAsync(parse).ConfigureAwait(false);
            var filter = parse.GetValue(vm);
            foreach (var point in await repository.ListPointsAsync().ConfigureAwait(false))
            {
                if (filter is not null && point.Vm != filter)
                {
                    continue;
                }

                Console.WriteLine(point.Problem is null
                    ? string.Create(Invariant, $"{point.Id}  {point.Vm,-16} {point.Time:yyyy-MM-dd HH:mm:ss}Z  {ProgressReporter.Format(point.TotalDiskBytes, true),10}  {string.Join(",", point.Disks)}")
                    : $"{point.Id}  UNREADABLE: {point.Problem}");
            }

            return 0;
        }));
        return command;
    }

    private static Command Put()
    {
        var file = new Argument<FileInfo>("FILE") { Description = "raw disk image to back up" };
        var vm = new Option<string>("--vm") { Description = "VM the image belongs to", Required = true };
        var disk = new Option<string>("--disk") { Description = "disk name inside the restore point", DefaultValueFactory = _ => "vda" };
        var command = new Command("put", "Back up a disk image as a new restore point; prints the point id on stdout") { file, Repo, PasswordFile, vm, disk };
        command.SetAction(parse => Run(async () =>
        {
            var image = parse.GetValue(file)!;
            if (!image.Exists)
            {
                throw new UsageException($"'{image.FullName}' does not exist");
            }

            using var repository = await OpenAsync(parse).ConfigureAwait(false);
            var held = await repository.LockAsync(LockKind.Shared, "backup").ConfigureAwait(false);
            await using (held.ConfigureAwait(false))
            {
                var writer = await repository.BeginPointAsync(parse.GetValue(vm)!).ConfigureAwait(false);
                await using (writer.ConfigureAwait(false))
                {
                    var started = DateTime.UtcNow;
                    await using var stream = new FileStream(image.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
                    await ProgressReporter.RunAsync($"put {image.Name}", stream.Length, bytes: true, async progress =>
                    {
                        await writer.AddDiskAsync(parse.GetValue(disk)!, stream, progress).ConfigureAwait(false);
                        return await writer.CommitAsync().ConfigureAwait(false);
                    }).ConfigureAwait(false);
                    var stats = writer.Statistics;
                    var seconds = (DateTime.UtcNow - started).TotalSeconds;
                    Console.Error.WriteLine(string.Create(Invariant,
                        $"point {writer.PointId}: read {ProgressReporter.Format(stats.BytesRead, true)} in {seconds:F1} s ({stats.BytesRead / seconds / (1 << 20):F0} MiB/s); {stats.NewBlobs} new chunks, {stats.DuplicateBlobs} already stored, {stats.ZeroChunks} zero; uploaded {ProgressReporter.Format(stats.UploadedBytes, true)}"));
                    Console.WriteLine(writer.PointId);
                }
            }

            return 0;
        }));
        return command;
    }

    private static Command Get()
    {
        var point = new Argument<string>("POINT") { Description = "restore point id, or 'latest'" };
        var output = new Option<FileInfo>("--out") { Description = "file to write the disk image to", Required = true };
        var disk = new Option<string>("--disk") { Description = "disk of the point to restore", DefaultValueFactory = _ => "vda" };
        var vm = new Option<string?>("--vm") { Description = "with 'latest': the latest point of this VM" };
        var command = new Command("get", "Restore a disk image of a restore point to a file") { point, Repo, PasswordFile, output, disk, vm };
        command.SetAction(parse => Run(async () =>
        {
            using var repository = await OpenAsync(parse).ConfigureAwait(false);
            var held = await repository.LockAsync(LockKind.Shared, "restore").ConfigureAwait(false);
            await using (held.ConfigureAwait(false))
            {
                var id = await ResolveAsync(repository, parse.GetValue(point)!, parse.GetValue(vm)).ConfigureAwait(false);
                var reader = await repository.OpenPointAsync(id).ConfigureAwait(false);
                var name = parse.GetValue(disk)!;
                if (reader.Manifest.Disks.All(d => d.Name != name))
                {
                    throw new UsageException($"restore point {id} has no disk '{name}' (it has: {string.Join(", ", reader.Manifest.Disks.Select(d => d.Name))})");
                }

                var target = parse.GetValue(output)!;
                var temporary = target.FullName + ".partial";
                var started = DateTime.UtcNow;
                await ProgressReporter.RunAsync($"get {id}", reader.DiskLength(name), bytes: true, async progress =>
                {
                    await reader.RestoreDiskToFileAsync(name, temporary, progress).ConfigureAwait(false);
                    return 0;
                }).ConfigureAwait(false);

                File.Move(temporary, target.FullName, overwrite: true);
                var seconds = (DateTime.UtcNow - started).TotalSeconds;
                Console.Error.WriteLine(string.Create(Invariant, $"restored disk '{name}' of {id} to {target.FullName}: {ProgressReporter.Format(reader.DiskLength(name), true)} in {seconds:F1} s ({reader.DiskLength(name) / seconds / (1 << 20):F0} MiB/s)"));
            }

            return 0;
        }));
        return command;
    }

    private static Command Verify()
    {
        var sample = new Option<double>("--sample") { Description = "read only this percentage of packs, chosen at random (default 100 = everything)", DefaultValueFactory = _ => 100 };
        var command = new Command("verify", "Check every stored byte (or a sample); exit 1 and list damaged points if anything is wrong") { Repo, PasswordFile, sample };
        command.SetAction(parse => Run(async () =>
        {
            var percent = parse.GetValue(sample);
            if (percent is <= 0 or > 100 or double.NaN)
            {
                throw new UsageException($"--sample {percent.ToString(Invariant)}: give a percentage above 0 and at most 100");
            }

            using var repository = await OpenAsync(parse).ConfigureAwait(false);
            var held = await repository.LockAsync(LockKind.Shared, "verify").ConfigureAwait(false);
            await using (held.ConfigureAwait(false))
            {
                var total = (long)(repository.Index.Packs.Sum(pack => pack.Length) * percent / 100);
                var report = await ProgressReporter.RunAsync("verify", total, bytes: true, progress =>
                    repository.VerifyAsync(new VerifyOptions { SamplePercent = percent, Progress = progress })).ConfigureAwait(false);
                Console.WriteLine(string.Create(Invariant,
                    $"checked {report.PacksChecked} of {report.PacksTotal} packs ({ProgressReporter.Format(report.BytesRead, true)}, {report.BlobsChecked} blobs) and {report.PointsChecked} restore points"));
                foreach (var damaged in report.DamagedObjects)
                {
                    Console.WriteLine($"damaged object {damaged.Key}: {damaged.Problem}");
                }

                foreach (var point in report.DamagedPoints)
                {
                    Console.WriteLine($"damaged point {point.PointId} ({point.Vm ?? "unknown VM"}): {string.Join("; ", point.Problems.Take(5))}{(point.Problems.Count > 5 ? $"; and {point.Problems.Count - 5} more" : string.Empty)}");
                }

                Console.WriteLine(report.IsHealthy ? "no damage found" : $"DAMAGED: {report.DamagedObjects.Count} objects, {report.DamagedPoints.Count} restore points");
                return report.IsHealthy ? 0 : 1;
            }
        }));
        return command;
    }

    private static Command Forget()
    {
        var points = new Argument<string[]>("POINT") { Description = "restore point ids to forget", Arity = ArgumentArity.ZeroOrMore };
        var keepLast = new Option<int?>("--keep-last") { Description = "keep the N newest points of each VM, forget older ones" };
        var vm = new Option<string?>("--vm") { Description = "with --keep-last: apply to this VM only" };
        var dryRun = new Option<bool>("--dry-run") { Description = "only show what would be forgotten" };
        var command = new Command("forget", "Forget restore points (deletes manifests only; run gc to reclaim space)") { points, Repo, PasswordFile, keepLast, vm, dryRun };
        command.SetAction(parse => Run(async () =>
        {
            var ids = parse.GetValue(points) ?? [];
            var keep = parse.GetValue(keepLast);
            if ((ids.Length == 0) == (keep is null))
            {
                throw new UsageException("give either restore point ids or --keep-last N");
            }

            if (keep is < 1)
            {
                throw new UsageException("--keep-last must be at least 1 (forget points by id to remove all of a VM's points)");
            }

            using var repository = await OpenAsync(parse).ConfigureAwait(false);
            var held = await repository.LockAsync(LockKind.Shared, "forget").ConfigureAwait(false);
            await using (held.ConfigureAwait(false))
            {
                var result = keep is { } n
                    ? await repository.ForgetAsync(n, parse.GetValue(vm), parse.GetValue(dryRun)).ConfigureAwait(false)
                    : await repository.ForgetAsync(ids, parse.GetValue(dryRun)).ConfigureAwait(false);
                foreach (var point in result.Removed)
                {
                    Console.WriteLine($"{(result.DryRun ? "would forget" : "forgot")} {point.Id} {point.Vm}");
                }

                Console.WriteLine($"{result.Removed.Count} forgotten{(result.DryRun ? " (dry run)" : string.Empty)}, {result.Kept.Count} kept");
            }

            return 0;
        }));
        return command;
    }

    private static Command Gc()
    {
        var grace = new Option<string>("--grace") { Description = "never touch packs younger than this (e.g. 24h, 90m, 0s); must exceed the longest backup", DefaultValueFactory = _ => "24h" };
        var threshold = new Option<double>("--repack-threshold") { Description = "repack a pack when at least this percentage of it is unreferenced", DefaultValueFactory = _ => 10 };
        var dryRun = new Option<bool>("--dry-run") { Description = "only show what would be deleted and repacked" };
        var command = new Command("gc", "Reclaim space: delete and repack data no restore point references (takes an exclusive lock)") { Repo, PasswordFile, grace, threshold, dryRun };
        command.SetAction(parse => Run(async () =>
        {
            var period = ParseDuration(parse.GetValue(grace)!);
            var percent = parse.GetValue(threshold);
            if (percent is < 0 or > 100 or double.NaN)
            {
                throw new UsageException("--repack-threshold is a percentage from 0 to 100");
            }

            using var repository = await OpenAsync(parse).ConfigureAwait(false);
            var result = await repository.GcAsync(new GcOptions
            {
                GracePeriod = period,
                RepackThreshold = percent / 100,
                DryRun = parse.GetValue(dryRun),
                Log = new Line(message => Console.Error.WriteLine($"gc: {message}")),
            }).ConfigureAwait(false);
            Console.WriteLine(string.Create(Invariant,
                $"{(result.DryRun ? "dry run: would delete" : "deleted")} {result.PacksDeleted} unreferenced and {result.OrphanPacksDeleted} unindexed packs, repacked {result.PacksRepacked} into {result.PacksWritten}; freed {ProgressReporter.Format(result.BytesDeleted - result.BytesWritten, true)}; {result.PacksInGracePeriod} packs left for the grace period ({period})"));
            return 0;
        }));
        return command;
    }

    private static Command Copy()
    {
        var points = new Argument<string[]>("POINT") { Description = "restore points to copy (default: all)", Arity = ArgumentArity.ZeroOrMore };
        var to = new Option<string>("--to") { Description = "target repository (must exist; other passphrase and keys allowed)", Required = true };
        var toPasswordFile = new Option<FileInfo?>("--to-password-file") { Description = $"target passphrase file (else ${PassphraseReader.TargetVariable}, else a prompt)" };
        var command = new Command("copy", "Copy restore points to another repository; only chunks it lacks are uploaded") { points, Repo, PasswordFile, to, toPasswordFile };
        command.SetAction(parse => Run(async () =>
        {
            using var source = await OpenAsync(parse).ConfigureAwait(false);
            var targetBackend = RepositoryLocator.Open(parse.GetValue(to)!, mustExist: true);
            var targetPassphrase = PassphraseReader.Read(parse.GetValue(toPasswordFile), PassphraseReader.TargetVariable, "Target repository passphrase: ", confirm: false);
            using var target = await BackupRepository.OpenAsync(targetBackend, targetPassphrase).ConfigureAwait(false);
            var sourceLock = await source.LockAsync(LockKind.Shared, "copy (source)").ConfigureAwait(false);
            await using (sourceLock.ConfigureAwait(false))
            {
                var targetLock = await target.LockAsync(LockKind.Shared, "copy (target)").ConfigureAwait(false);
                await using (targetLock.ConfigureAwait(false))
                {
                    var ids = parse.GetValue(points) is { Length: > 0 } chosen
                        ? chosen
                        : (await source.ListPointsAsync().ConfigureAwait(false)).Where(p => p.Problem is null).Select(p => p.Id).ToArray();
                    long total = 0;
                    foreach (var id in ids)
                    {
                        total += await source.CountChunksAsync(id).ConfigureAwait(false);
                    }

                    var stats = await ProgressReporter.RunAsync("copy (chunks)", total, bytes: false, progress =>
                    {
                        long done = 0;
                        return source.CopyToAsync(target, ids, new Line<long>(count => progress.Report(Interlocked.Add(ref done, count))));
                    }).ConfigureAwait(false);
                    Console.WriteLine(string.Create(Invariant,
                        $"copied {stats.PointsCopied} points ({stats.PointsSkipped} already there): {stats.ChunksMapped} chunks unchanged since a copied parent, {stats.ChunksRead} read, {stats.ChunksUploaded} uploaded ({ProgressReporter.Format(stats.BytesUploaded, true)})"));
                }
            }

            return 0;
        }));
        return command;
    }

    private static Command Locks()
    {
        var removeStale = new Option<bool>("--remove-stale") { Description = "delete locks not refreshed within the stale age" };
        var staleMinutes = new Option<int>("--stale-minutes") { Description = "stale age in minutes", DefaultValueFactory = _ => (int)new LockOptions().StaleAfter.TotalMinutes };
        var command = new Command("locks", "List locks (flagging stale ones) and optionally remove stale locks") { Repo, PasswordFile, removeStale, staleMinutes };
        command.SetAction(parse => Run(async () =>
        {
            using var repository = await OpenAsync(parse).ConfigureAwait(false);
            var staleAfter = TimeSpan.FromMinutes(parse.GetValue(staleMinutes));
            PrintLocks(await repository.ListLocksAsync().ConfigureAwait(false), staleAfter);
            if (parse.GetValue(removeStale))
            {
                foreach (var removed in await repository.RemoveStaleLocksAsync(staleAfter).ConfigureAwait(false))
                {
                    Console.WriteLine($"removed stale {removed.Describe()}");
                }
            }

            return 0;
        }));
        return command;
    }

    private static void PrintLocks(IReadOnlyList<LockInfo> locks, TimeSpan staleAfter)
    {
        var now = DateTimeOffset.UtcNow;
        Console.WriteLine($"locks        {locks.Count}");
        foreach (var info in locks)
        {
            Console.WriteLine($"  {(info.IsStale(now, staleAfter) ? "STALE " : string.Empty)}{info.Describe()}");
        }
    }

    private static async Task<BackupRepository> OpenAsync(ParseResult parse)
    {
        var backend = RepositoryLocator.Open(parse.GetValue(Repo)!, mustExist: true);
        var passphrase = PassphraseReader.Read(parse.GetValue(PasswordFile), PassphraseReader.Variable, "Repository passphrase: ", confirm: false);
        return await BackupRepository.OpenAsync(backend, passphrase).ConfigureAwait(false);
    }

    private static async Task<string> ResolveAsync(BackupRepository repository, string point, string? vm)
    {
        if (point != "latest")
        {
            return point;
        }

        var latest = (await repository.ListPointsAsync().ConfigureAwait(false)).Where(p => p.Problem is null && (vm is null || p.Vm == vm)).MaxBy(p => p.Time);
        return latest?.Id ?? throw new UsageException(vm is null ? "the repository has no restore points" : $"VM '{vm}' has no restore points");
    }

    internal static TimeSpan ParseDuration(string text)
    {
        var trimmed = text.Trim();
        if (trimmed.Length >= 2 && double.TryParse(trimmed[..^1], NumberStyles.Float, Invariant, out var value) && value >= 0)
        {
            switch (char.ToLowerInvariant(trimmed[^1]))
            {
                case 's': return TimeSpan.FromSeconds(value);
                case 'm': return TimeSpan.FromMinutes(value);
                case 'h': return TimeSpan.FromHours(value);
                case 'd': return TimeSpan.FromDays(value);
            }
        }

        if (trimmed == "0")
        {
            return TimeSpan.Zero;
        }

        throw new UsageException($"'{text}' is not a duration (examples: 24h, 90m, 30s, 2d)");
    }

    private static int Run(Func<Task<int>> action)
    {
        try
        {
            return action().GetAwaiter().GetResult();
        }
        catch (Exception exception) when (exception is UsageException or WrongPassphraseException or ArgumentException or FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"backup: {exception.Message}");
            return 2;
        }
        catch (RepositoryCorruptException exception)
        {
            Console.Error.WriteLine($"backup: repository damaged: {exception.Message}");
            return 1;
        }
        catch (Exception exception) when (exception is UnsupportedFormatVersionException or RepositoryLockedException or IOException or InvalidOperationException or BackendTransientException)
        {
            Console.Error.WriteLine($"backup: {exception.Message}");
            return 1;
        }
    }

    private sealed class Line(Action<string> write) : IProgress<string>
    {
        public void Report(string value) => write(value);
    }

    private sealed class Line<T>(Action<T> write) : IProgress<T>
    {
        public void Report(T value) => write(value);
    }
}
