using System.Diagnostics;
using System.Globalization;
using System.Text;
using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Timing;
using Backup.Hypervisor.Translation;
using Backup.Hypervisor.Translation.Cache;
using Backup.Hypervisor.Translation.Decode;
using Backup.Hypervisor.Translation.Emit;

namespace Backup.Benchmarks;

/// <summary>
/// Sustained guest MIPS on a CPU-bound guest program, built here with the guest cross compiler as a bare-metal
/// M-mode ELF, for our interpreter, our translated tier and qemu-system-riscv64 (TCG, -M virt -bios none) in the same
/// run: scenario "cpu" runs Workloads/cpuload.c (CRC-32, LZ77 compression and FNV-1a over 64 KiB, RV64IMAC) and adds
/// the cost of compiling blocks (IL emission and JIT) measured on the kernel Image's own code; scenario "fpload" runs
/// Workloads/fpload.c (double matrix multiply, complex FFT and its inverse, a single-precision dot product; RV64GC).
/// Every machine must print the same checksum line.
/// </summary>
public static class CpuBenchmark
{
    /// <summary>A guest program: its source in Workloads/, the compiler's ISA and ABI, the line it prints.</summary>
    public sealed record Workload(string Source, string March, string Mabi, string Marker);

    public static readonly Workload Integer = new("cpuload.c", "rv64imac", "lp64", "cpuload: rounds");

    public static readonly Workload Float = new("fpload.c", "rv64gc", "lp64d", "fpload: rounds");

    public static int Run(BenchmarkOptions options) => Run(options, Integer);

    public static int Run(BenchmarkOptions options, Workload workload)
    {
        string marker = workload.Marker;
        string elf = BuildWorkload(workload, options.Rounds);
        var interpreter = new List<(double Seconds, ulong Instructions, string Line)>();
        var translated = new List<(double Seconds, ulong Instructions, string Line)>();
        var qemu = new List<(double Seconds, string Line)>();
        for (int i = 0; i < options.Runs; i++)
        {
            interpreter.Add(RunOurs(elf, ExecutionMode.Interpreter, marker));
            translated.Add(RunOurs(elf, ExecutionMode.Translated, marker));
            qemu.Add(RunQemu(elf, marker));
        }

        string expected = interpreter[0].Line;
        foreach (string line in translated.Select(r => r.Line).Concat(qemu.Select(r => r.Line)))
        {
            if (line != expected)
            {
                throw new InvalidOperationException($"the machines disagree on the workload's result: '{expected}' vs '{line}'");
            }
        }

        ulong instructions = interpreter[0].Instructions;
        double i0 = Median(interpreter.Select(r => r.Seconds)), t0 = Median(translated.Select(r => r.Seconds)), q0 = Median(qemu.Select(r => r.Seconds));
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine($"workload: Workloads/{workload.Source}, {options.Rounds} rounds, {instructions / 1e6:F1} M guest instructions, result '{expected}'; {options.Runs} runs each, medians");
        Console.WriteLine("| machine | wall time | guest MIPS |");
        Console.WriteLine("| --- | --- | --- |");
        Console.WriteLine(string.Create(inv, $"| ours, interpreter (in process, VM construction to power-off) | {i0:F3} s | {instructions / i0 / 1e6:F1} |"));
        Console.WriteLine(string.Create(inv, $"| ours, translated (in process, VM construction to power-off) | {t0:F3} s | {instructions / t0 / 1e6:F1} |"));
        Console.WriteLine(string.Create(inv, $"| qemu-system-riscv64 (TCG), process start to exit | {q0:F3} s | {instructions / q0 / 1e6:F1} |"));
        Console.WriteLine(string.Create(inv, $"ratio translated/qemu MIPS: {q0 / t0:F2}x; translated/interpreter MIPS: {i0 / t0:F2}x"));
        if (workload == Integer)
        {
            MeasureCompile(options.KernelPath, 400);
        }

        return 0;
    }

    private static string BuildWorkload(Workload workload, int rounds)
    {
        string source = Path.Combine(AppContext.BaseDirectory, "Workloads", workload.Source);
        string script = Path.Combine(AppContext.BaseDirectory, "Workloads", "cpuload.ld");
        string output = Path.Combine(Path.GetTempPath(), $"{Path.GetFileNameWithoutExtension(workload.Source)}-{rounds}-{Environment.ProcessId}.elf");
        var psi = new ProcessStartInfo("riscv64-linux-gnu-gcc") { RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[]
        {
            "-O2", $"-march={workload.March}", $"-mabi={workload.Mabi}", "-fno-math-errno", "-nostdlib", "-static", "-ffreestanding", "-fno-pic", "-mcmodel=medany",
            "-T", script, "-Wl,--no-warn-rwx-segments", "-Wl,--build-id=none", $"-DROUNDS={rounds}", "-o", output, source,
        })
        {
            psi.ArgumentList.Add(a);
        }

        using var gcc = Process.Start(psi) ?? throw new InvalidOperationException("riscv64-linux-gnu-gcc did not start");
        string errors = gcc.StandardError.ReadToEnd();
        gcc.WaitForExit();
        if (gcc.ExitCode != 0)
        {
            throw new InvalidOperationException($"building the workload failed:\n{errors}");
        }

        return output;
    }

    private static (double Seconds, ulong Instructions, string Line) RunOurs(string elf, ExecutionMode mode, string marker)
    {
        var text = new StringBuilder();
        var stopwatch = Stopwatch.StartNew();
        var config = new VmConfiguration { ElfPath = elf, MemorySize = 64UL << 20, Clock = ClockMode.RealTime, Execution = mode };
        using var vm = new VirtualMachine(config, b => text.Append((char)b));
        var exit = vm.Run();
        double seconds = stopwatch.Elapsed.TotalSeconds;
        string line = text.ToString().Split('\n').FirstOrDefault(l => l.StartsWith(marker, StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"our VM ({mode}) did not print the result: {exit}\n{text}");
        if (mode == ExecutionMode.Translated)
        {
            var s = vm.Harts[0].TranslationStatistics;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"translated run: {s.BlocksCompiled} blocks compiled in {s.CompileTime.TotalMilliseconds:F0} ms (background), {s.InstructionsTranslated / 1e6:F1} M of {vm.RetiredInstructions / 1e6:F1} M instructions ran compiled, {s.BlockRuns / 1e6:F2} M block runs, {s.ChainedBlockRuns / 1e6:F2} M of them chained from another block's code"));
        }

        return (seconds, vm.RetiredInstructions, line);
    }

    private static (double Seconds, string Line) RunQemu(string elf, string marker)
    {
        var psi = new ProcessStartInfo("qemu-system-riscv64") { RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (string a in new[] { "-M", "virt", "-m", "64M", "-bios", "none", "-nographic", "-kernel", elf })
        {
            psi.ArgumentList.Add(a);
        }

        var stopwatch = Stopwatch.StartNew();
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("qemu-system-riscv64 did not start");
        string output = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException("qemu did not finish the workload in 5 minutes");
        }

        double seconds = stopwatch.Elapsed.TotalSeconds;
        string line = output.Split('\n').Select(l => l.TrimEnd('\r')).FirstOrDefault(l => l.StartsWith(marker, StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"qemu did not print the result:\n{output}");
        return (seconds, line);
    }

    /// <summary>Decodes blocks from the start of the kernel Image's code and compiles them, one by one, timing each.</summary>
    private static unsafe void MeasureCompile(string kernel, int count)
    {
        byte[] image = File.ReadAllBytes(kernel);
        var blocks = new List<DecodedInstruction[]>();
        fixed (byte* start = image)
        {
            for (int offset = 0x1000; offset + 0x1000 < image.Length && blocks.Count < count; offset += 2)
            {
                ulong pc = 0x8020_0000UL + (ulong)offset;
                var block = BlockDecoder.Decode(start + offset, pc);
                if (block.Length >= 4)
                {
                    blocks.Add(block);
                    offset += block.Sum(d => d.Length) - 2;
                }
            }
        }

        _ = BlockEmitter.Emit(blocks[0], new TranslatedBlock(0, 0, null, 0)); // warm the emitter itself
        var stopwatch = Stopwatch.StartNew();
        foreach (var block in blocks)
        {
            _ = BlockEmitter.Emit(block, new TranslatedBlock(0, 0, null, 0));
        }

        double perBlock = stopwatch.Elapsed.TotalMicroseconds / blocks.Count;
        double instructions = blocks.Average(b => b.Length);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"compile cost: {blocks.Count} kernel blocks (average {instructions:F1} instructions) emitted and JIT-compiled in {stopwatch.Elapsed.TotalMilliseconds:F0} ms: {perBlock:F0} us per block"));
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
