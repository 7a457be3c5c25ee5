using System.Globalization;
using Backup.Repository;
using Backup.Repository.Backends.Local;
using Backup.Repository.Configuration;

namespace Backup.Benchmarks;

/// <summary>
/// Garbage collection at about a million chunks: ours versus borg (fixed chunking at the same block size, so both hold
/// the same number of chunks). Version 1 is a random image; version 2 rewrites a quarter of it in 1 MiB extents at
/// random places, so the chunks only version 1 needs are scattered through its packs and segments. Each tool then
/// forgets version 1 and reclaims the space (ours: forget + gc; borg: prune + compact); that pair is what is timed.
/// restic is not part of this benchmark: its chunker has a 512 KiB minimum that cannot be changed, so a million chunks
/// would need half a TiB of data.
/// </summary>
public static class GcBenchmark
{
    private const string Password = "benchmark passphrase";
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static int Run(BenchmarkOptions options, double sizeGib, int chunkSize, string? workRoot)
    {
        var work = workRoot ?? Path.Combine(Path.GetTempPath(), "backup-gc-bench");
        if (Directory.Exists(work))
        {
            Directory.Delete(work, recursive: true);
        }

        Directory.CreateDirectory(work);
        var data = Directory.CreateDirectory(Path.Combine(work, "data")).FullName;
        var size = (long)(sizeGib * (1L << 30)) / chunkSize * chunkSize;
        var image = Path.Combine(data, "disk.img");
        Generate(image, size);
        var chunks = size / chunkSize;
        Console.Error.WriteLine($"image {size >> 20} MiB = {chunks} chunks of {chunkSize} bytes per version");

        (string program, string[] prefix) = options.Backup is { } published
            ? (published, Array.Empty<string>())
            : ("dotnet", new[] { Path.Combine(AppContext.BaseDirectory, "backup.dll") });
        var ours = Path.Combine(work, "ours");
        var borg = Path.Combine(work, "borg");
        var oursEnv = new Dictionary<string, string> { ["BACKUP_PASSWORD"] = Password };
        var borgEnv = new Dictionary<string, string> { ["BORG_PASSPHRASE"] = Password, ["BORG_BASE_DIR"] = Path.Combine(work, "borg-base") };

        // Our CLI has no chunk-size option; the repository is created through the library with the benchmark's size.
        using (BackupRepository.InitAsync(new LocalFolderBackend(ours), Password, new RepositoryOptions { DiskChunkSize = chunkSize }).GetAwaiter().GetResult())
        {
        }

        ToolRun.Exec("borg", ["init", "-e", "repokey", borg], work, borgEnv);
        var backups = new Dictionary<string, List<double>> { ["ours"] = [], ["borg"] = [] };
        for (var version = 1; version <= 2; version++)
        {
            if (version == 2)
            {
                RewriteQuarter(image, size);
            }

            backups["ours"].Add(ToolRun.Exec(program, [.. prefix, "repo", "put", "disk.img", "--repo", ours, "--vm", "bench"], data, oursEnv));
            backups["borg"].Add(ToolRun.Exec("borg", ["create", "--compression", "zstd,3", "--chunker-params", $"fixed,{chunkSize}", $"{borg}::v{version}", "disk.img"], data, borgEnv));
        }

        var before = new Dictionary<string, long> { ["ours"] = ToolRun.DirectoryBytes(ours), ["borg"] = ToolRun.DirectoryBytes(borg) };
        var gc = new Dictionary<string, double>
        {
            ["ours"] = ToolRun.Exec(program, [.. prefix, "repo", "forget", "--keep-last", "1", "--repo", ours], work, oursEnv)
                + ToolRun.Exec(program, [.. prefix, "repo", "gc", "--grace", "0s", "--repo", ours], work, oursEnv),
            ["borg"] = ToolRun.Exec("borg", ["prune", "--keep-last", "1", borg], work, borgEnv) + ToolRun.Exec("borg", ["compact", borg], work, borgEnv),
        };
        var after = new Dictionary<string, long> { ["ours"] = ToolRun.DirectoryBytes(ours), ["borg"] = ToolRun.DirectoryBytes(borg) };

        Console.WriteLine(string.Create(Inv,
            $"image {size >> 20} MiB random, {chunkSize}-byte chunks: {chunks} chunks in version 1, version 2 rewrites a quarter in 1 MiB extents; {chunks + (chunks / 4)} distinct chunks before gc; {Environment.ProcessorCount} cores"));
        Console.WriteLine("| tool | backup v1 | backup v2 | repository before | forget v1 + gc | repository after |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- |");
        foreach (var tool in new[] { "ours", "borg" })
        {
            Console.WriteLine(string.Create(Inv,
                $"| {tool} | {backups[tool][0]:F1} s | {backups[tool][1]:F1} s | {before[tool] / (double)(1 << 20):F0} MiB | {gc[tool]:F1} s | {after[tool] / (double)(1 << 20):F0} MiB |"));
        }

        Console.WriteLine(string.Create(Inv, $"ours vs borg: forget + gc {gc["borg"] / gc["ours"]:F2}x (borg time / our time)"));
        Directory.Delete(work, recursive: true);
        return 0;
    }

    private static void Generate(string path, long size)
    {
        var random = new Random(20261124);
        var buffer = new byte[1 << 20];
        using var output = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        for (long written = 0; written < size; written += buffer.Length)
        {
            var span = buffer.AsSpan(0, (int)Math.Min(buffer.Length, size - written));
            random.NextBytes(span);
            output.Write(span);
        }
    }

    /// <summary>Overwrites a quarter of the image with new random data, in 1 MiB extents at random 1 MiB-aligned places.</summary>
    private static void RewriteQuarter(string path, long size)
    {
        var random = new Random(7);
        var extents = size >> 20;
        var chosen = Enumerable.Range(0, (int)extents).OrderBy(_ => random.Next()).Take((int)(extents / 4)).Order();
        var buffer = new byte[1 << 20];
        using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        foreach (var extent in chosen)
        {
            random.NextBytes(buffer);
            file.Position = (long)extent << 20;
            file.Write(buffer, 0, (int)Math.Min(buffer.Length, size - file.Position));
        }
    }
}
