using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Backup.Benchmarks;

/// <summary>
/// Backup repository versus restic and borg on the same data in the same run: a generated disk image (zero, text-like
/// and random extents) and versions with scattered small writes. Per version, each tool backs up the same file at the
/// same path; then each restores the last version; then each forgets all but the last and reclaims space.
/// All three use local repositories on the same disk, encryption on, passwords from the environment.
/// </summary>
public static class RepoBenchmark
{
    private const string Password = "benchmark passphrase";
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static int Run(BenchmarkOptions options, double sizeGib, int versions, string? workRoot)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(versions, 1);
        var work = workRoot ?? Path.Combine(Path.GetTempPath(), "backup-repo-bench");
        if (Directory.Exists(work))
        {
            Directory.Delete(work, recursive: true);
        }

        Directory.CreateDirectory(work);
        var data = Directory.CreateDirectory(Path.Combine(work, "data")).FullName;
        var size = (long)(sizeGib * (1L << 30)) / 4096 * 4096;
        var stopwatch = Stopwatch.StartNew();
        var files = GenerateVersions(work, size, versions);
        Console.Error.WriteLine($"generated {versions} versions of {size >> 20} MiB in {stopwatch.Elapsed.TotalSeconds:F0} s");

        (string program, string[] prefix) = options.Backup is { } published
            ? (published, Array.Empty<string>())
            : ("dotnet", new[] { Path.Combine(AppContext.BaseDirectory, "backup.dll") });
        var tools = new Tool[]
        {
            new("ours", Path.Combine(work, "ours"), new() { ["BACKUP_PASSWORD"] = Password },
                repo => [(program, [.. prefix, "repo", "init", "--repo", repo])],
                (repo, _) => (program, [.. prefix, "repo", "put", "disk.img", "--repo", repo, "--vm", "bench"]),
                (repo, _, _) => (program, [.. prefix, "repo", "get", "latest", "--repo", repo, "--out", "disk.img"]),
                repo => [(program, [.. prefix, "repo", "forget", "--keep-last", "1", "--repo", repo]), (program, [.. prefix, "repo", "gc", "--grace", "0s", "--repo", repo])]),
            new("restic", Path.Combine(work, "restic"), new() { ["RESTIC_PASSWORD"] = Password, ["RESTIC_CACHE_DIR"] = Path.Combine(work, "restic-cache") },
                repo => [("restic", ["-r", repo, "init"])],
                (repo, _) => ("restic", ["-r", repo, "backup", "--host", "bench", "disk.img"]),
                (repo, _, target) => ("restic", ["-r", repo, "restore", "latest", "--target", target]),
                repo => [("restic", ["-r", repo, "forget", "--keep-last", "1", "--prune"])]),
            new("borg", Path.Combine(work, "borg"), new() { ["BORG_PASSPHRASE"] = Password, ["BORG_BASE_DIR"] = Path.Combine(work, "borg-base") },
                repo => [("borg", ["init", "-e", "repokey", repo])],
                (repo, version) => ("borg", ["create", "--compression", "zstd,3", $"{repo}::v{version}", "disk.img"]),
                (repo, version, _) => ("borg", ["extract", $"{repo}::v{version}"]),
                repo => [("borg", ["prune", "--keep-last", "1", repo]), ("borg", ["compact", repo])]),
        };

        foreach (var tool in tools)
        {
            foreach (var (exe, args) in tool.Init(tool.Repo))
            {
                ToolRun.Exec(exe, args, work, tool.Environment);
            }
        }

        var backupSeconds = tools.ToDictionary(t => t.Name, _ => new List<double>());
        var current = Path.Combine(data, "disk.img");
        for (var v = 0; v < versions; v++)
        {
            File.Move(files[v], current);
            foreach (var tool in tools)
            {
                var (exe, args) = tool.Backup(tool.Repo, v);
                Sync(work); // each tool starts without the previous one's writeback still in flight
                backupSeconds[tool.Name].Add(ToolRun.Exec(exe, args, data, tool.Environment));
            }

            File.Move(current, files[v]);
        }

        // Restores run options.Runs times, the tools interleaved so they see the same load; the median is reported.
        var restoreRuns = tools.ToDictionary(t => t.Name, _ => new List<double>());
        var durableRuns = tools.ToDictionary(t => t.Name, _ => new List<double>());
        var lastHash = Hash(files[^1]);
        for (var run = 0; run < Math.Max(1, options.Runs); run++)
        {
            foreach (var tool in tools)
            {
                var target = Directory.CreateDirectory(Path.Combine(work, "restore-" + tool.Name)).FullName;
                var (exe, args) = tool.Restore(tool.Repo, versions - 1, target);
                Sync(work);
                var seconds = ToolRun.Exec(exe, args, target, tool.Environment);
                restoreRuns[tool.Name].Add(seconds);
                // Durable: until the restored bytes are on the device (ours flushes before it returns; the peers leave
                // them in the page cache), timed by a sync right after.
                durableRuns[tool.Name].Add(seconds + Sync(work));
                var restored = Directory.EnumerateFiles(target, "disk.img", SearchOption.AllDirectories).Single();
                if (Hash(restored) != lastHash)
                {
                    throw new InvalidOperationException($"{tool.Name} restored different bytes");
                }

                Directory.Delete(target, recursive: true);
            }
        }

        var restoreSeconds = restoreRuns.ToDictionary(pair => pair.Key, pair => Median(pair.Value));
        var durableSeconds = durableRuns.ToDictionary(pair => pair.Key, pair => Median(pair.Value));

        var repoBytes = tools.ToDictionary(t => t.Name, t => ToolRun.DirectoryBytes(t.Repo));
        var pruneSeconds = new Dictionary<string, double>();
        var afterPrune = new Dictionary<string, long>();
        foreach (var tool in tools)
        {
            pruneSeconds[tool.Name] = tool.Prune(tool.Repo).Sum(step => ToolRun.Exec(step.Exe, step.Args, work, tool.Environment));
            afterPrune[tool.Name] = ToolRun.DirectoryBytes(tool.Repo);
        }

        var mib = size / (double)(1 << 20);
        var logical = size * versions;
        Console.WriteLine(string.Create(Inv, $"image {mib:F0} MiB (≈⅓ zero, ⅓ text-like, ⅓ random extents), {versions} versions, each {Writes(size)} scattered 4 KiB writes + one 8 MiB new region; logical data {logical / (double)(1L << 30):F2} GiB; {Environment.ProcessorCount} cores"));
        Console.WriteLine("| tool | first backup | incremental (mean) | repository after all versions | dedup+compression ratio | full restore (median) | restore + sync (median) | forget all but last + gc |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var tool in tools)
        {
            var b = backupSeconds[tool.Name];
            var incremental = b.Skip(1).DefaultIfEmpty(double.NaN).Average();
            Console.WriteLine(string.Create(Inv,
                $"| {tool.Name} | {b[0]:F1} s = {mib / b[0]:F0} MiB/s | {incremental:F1} s = {mib / incremental:F0} MiB/s | {repoBytes[tool.Name] / (double)(1 << 20):F0} MiB | {logical / (double)repoBytes[tool.Name]:F2}x | {restoreSeconds[tool.Name]:F1} s = {mib / restoreSeconds[tool.Name]:F0} MiB/s | {durableSeconds[tool.Name]:F1} s | {pruneSeconds[tool.Name]:F1} s, {afterPrune[tool.Name] / (double)(1 << 20):F0} MiB left |"));
        }

        double Incremental(string name) => backupSeconds[name].Skip(1).DefaultIfEmpty(double.NaN).Average();
        double Ratio(Func<string, double> seconds) => seconds("restic") / seconds("ours");
        Console.WriteLine(string.Create(Inv, $"full restore, {restoreRuns["ours"].Count} run(s) each, seconds: {string.Join("; ", tools.Select(t => $"{t.Name} {string.Join(" ", restoreRuns[t.Name].Select(x => x.ToString("F1", Inv)))}"))}"));
        Console.WriteLine(string.Create(Inv,
            $"ours vs restic: first backup {Ratio(n => backupSeconds[n][0]):F2}x, incremental {Ratio(Incremental):F2}x, restore {Ratio(n => restoreSeconds[n]):F2}x (restore + sync {Ratio(n => durableSeconds[n]):F2}x), repository size {repoBytes["restic"] / (double)repoBytes["ours"]:F2}x smaller-is-better ratio (restic/ours)"));
        Console.WriteLine(string.Create(Inv,
            $"ours vs borg:   first backup {backupSeconds["borg"][0] / backupSeconds["ours"][0]:F2}x, incremental {Incremental("borg") / Incremental("ours"):F2}x, restore {restoreSeconds["borg"] / restoreSeconds["ours"]:F2}x (restore + sync {durableSeconds["borg"] / durableSeconds["ours"]:F2}x), repository size (borg/ours) {repoBytes["borg"] / (double)repoBytes["ours"]:F2}x"));
        Directory.Delete(work, recursive: true);
        return 0;
    }

    /// <summary>Runs sync(1) (all dirty data to the devices); returns how long it took.</summary>
    private static double Sync(string work) => ToolRun.Exec("sync", [], work, []);

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static int Writes(long size) => (int)Math.Max(200, size / (1L << 30) * 2000);

    private static string[] GenerateVersions(string work, long size, int versions)
    {
        var random = new Random(20261124);
        var text = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 40000).Select(i => $"{i:D6} INFO service[{i % 97}] request /api/v1/items/{i * 7919 % 100003} took {i % 1000} ms\n")));
        var files = new string[versions];
        files[0] = Path.Combine(work, "v0.img");
        using (var output = new FileStream(files[0], FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        {
            var buffer = new byte[1 << 20];
            long written = 0;
            while (written < size)
            {
                // Extents of 4 KiB-1 MiB, like a filesystem's: zeros (free space), text-like (logs, configs), random (media, compressed).
                var extent = (int)Math.Min(size - written, random.Next(1, 257) * 4096L);
                var span = buffer.AsSpan(0, extent);
                switch (random.Next(3))
                {
                    case 0: span.Clear(); break;
                    case 1:
                        for (var o = 0; o < extent;)
                        {
                            var start = random.Next(text.Length - 8192);
                            var n = Math.Min(extent - o, 8192);
                            text.AsSpan(start, n).CopyTo(span[o..]);
                            o += n;
                        }

                        break;
                    default: random.NextBytes(span); break;
                }

                output.Write(span);
                written += extent;
            }
        }

        var block = new byte[4096];
        for (var v = 1; v < versions; v++)
        {
            files[v] = Path.Combine(work, $"v{v}.img");
            File.Copy(files[v - 1], files[v]);
            using var file = new FileStream(files[v], FileMode.Open, FileAccess.ReadWrite);
            for (var i = 0; i < Writes(size); i++)
            {
                random.NextBytes(block);
                file.Position = random.NextInt64(size / 4096) * 4096;
                file.Write(block);
            }

            var region = new byte[8 << 20];
            random.NextBytes(region);
            file.Position = random.NextInt64((size - region.Length) / 4096) * 4096;
            file.Write(region);
        }

        return files;
    }

    private static string Hash(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(stream));
    }

    private sealed record Tool(
        string Name,
        string Repo,
        Dictionary<string, string> Environment,
        Func<string, (string Exe, string[] Args)[]> Init,
        Func<string, int, (string Exe, string[] Args)> Backup,
        Func<string, int, string, (string Exe, string[] Args)> Restore,
        Func<string, (string Exe, string[] Args)[]> Prune);
}
