using System.Globalization;
using Backup.TestSupport;

namespace Backup.Benchmarks;

/// <summary>Command-line options shared by the benchmarks.</summary>
public sealed record BenchmarkOptions(string? Kernel, int Runs, ulong MemoryMiB, string? Backup, double SizeGib = 2, int Versions = 4, string? Work = null, int Rounds = 100, int ChunkSize = 4096, int SizeMib = 16)
{
    public static BenchmarkOptions Parse(string[] args)
    {
        string? kernel = null;
        int runs = 5;
        ulong memory = 64;
        string? backup = null;
        double sizeGib = 2;
        int versions = 4;
        string? work = null;
        int rounds = 100;
        var chunkSize = 4096;
        int sizeMib = 16;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--kernel": kernel = args[++i]; break;
                case "--runs": runs = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--memory-mib": memory = ulong.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--backup": backup = args[++i]; break;
                case "--size-gib": sizeGib = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--versions": versions = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--work": work = args[++i]; break;
                case "--rounds": rounds = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--chunk-size": chunkSize = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--size-mib": sizeMib = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        }

        return new BenchmarkOptions(kernel, runs, memory, backup, sizeGib, versions, work, rounds, chunkSize, sizeMib);
    }

    public string KernelPath => Kernel ?? GuestImage.KernelPath;
}
