using System.Diagnostics;
using System.Globalization;
using Backup.Benchmarks;

// Benchmarks are programs, not tests: each prints a markdown table row set for docs/performance.md.
// Usage: dotnet run -c Release --project tests/Backup.Benchmarks -- boot [--kernel PATH] [--runs N]
//        dotnet run -c Release --project tests/Backup.Benchmarks -- rto [--memory-mib 256] [--runs 3] [--size-gib 0]
//        dotnet run -c Release --project tests/Backup.Benchmarks -- cpu [--rounds N] [--runs N]
//        dotnet run -c Release --project tests/Backup.Benchmarks -- fpload [--rounds N] [--runs N]
//        dotnet run -c Release --project tests/Backup.Benchmarks -- repo [--size-gib 2] [--versions 4] [--runs N] [--work DIR] [--backup PATH]
//        dotnet run -c Release --project tests/Backup.Benchmarks -- gc [--size-gib 3] [--chunk-size 4096] [--work DIR] [--backup PATH]
//        dotnet run -c Release --project tests/Backup.Benchmarks -- fp [--runs N]
//        dotnet run -c Release --project tests/Backup.Benchmarks -- debian-stock [--runs N]   (after appliance/guest/debian-stock/build)
//        dotnet run -c Release --project tests/Backup.Benchmarks -- network [--runs N] [--size-mib 16]   (after appliance/guest/debian-stock/build)
string scenario = args.Length > 0 ? args[0] : "boot";
var options = BenchmarkOptions.Parse(args.Skip(1).ToArray());
switch (scenario)
{
    case "boot":
        return BootBenchmark.Run(options);
    case "cpu":
        return CpuBenchmark.Run(options);
    case "fpload":
        return CpuBenchmark.Run(options, CpuBenchmark.Float);
    case "checkpoint":
        return CheckpointBenchmark.Run(options);
    case "rto":
        return RecoveryBenchmark.Run(options);
    case "repo":
        return RepoBenchmark.Run(options, options.SizeGib, options.Versions, options.Work);
    case "gc":
        return GcBenchmark.Run(options, options.SizeGib, options.ChunkSize, options.Work);
    case "fp":
        return FloatBenchmark.Run(options);
    case "debian-stock":
        return DebianStockBootBenchmark.Run(options);
    case "network":
        return NetworkBenchmark.Run(options);
    default:
        Console.Error.WriteLine($"unknown benchmark '{scenario}' (known: boot, cpu, fpload, fp, checkpoint, repo, gc, rto, debian-stock, network)");
        return 2;
}
