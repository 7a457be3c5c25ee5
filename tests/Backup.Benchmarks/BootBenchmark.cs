using System.Diagnostics;
using System.Globalization;
using System.Text;
using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Timing;
using Backup.Hypervisor.Translation;
using Backup.Hypervisor.Translation.Cache;

namespace Backup.Benchmarks;

/// <summary>
/// Wall time from start to the guest's "guest: ready" line, for our core and for qemu-system-riscv64 (TCG,
/// -M virt, -bios default = OpenSBI) booting the same kernel in the same run; plus our guest MIPS.
/// </summary>
public static class BootBenchmark
{
    private const string Ready = "guest: ready";

    public static int Run(BenchmarkOptions options)
    {
        string kernel = options.KernelPath;
        var ours = new List<(double Seconds, ulong Instructions)>();
        var translated = new List<(double Seconds, ulong Instructions)>();
        TranslationStatistics translation = default;
        var oursProcess = new List<double>();
        var translatedProcess = new List<double>();
        var qemu = new List<double>();
        // The appliance's published (ReadyToRun) command when given, else the JIT-only build next to this program.
        (string program, string[] prefix) = options.Backup is { } published
            ? (published, Array.Empty<string>())
            : ("dotnet", new[] { Path.Combine(AppContext.BaseDirectory, "backup.dll") });
        for (int i = 0; i < options.Runs; i++)
        {
            ours.Add(BootOurs(kernel, options.MemoryMiB, ExecutionMode.Interpreter, out _));
            translated.Add(BootOurs(kernel, options.MemoryMiB, ExecutionMode.Translated, out translation));
            oursProcess.Add(TimeToReady(program, [.. prefix, "vm", "run", "--kernel", kernel, "--memory", $"{options.MemoryMiB}M", "--cmdline", "console=ttyS0"]));
            translatedProcess.Add(TimeToReady(program, [.. prefix, "vm", "run", "--kernel", kernel, "--memory", $"{options.MemoryMiB}M", "--cmdline", "console=ttyS0", "--execution", "translated"]));
            qemu.Add(TimeToReady("qemu-system-riscv64", ["-M", "virt", "-m", $"{options.MemoryMiB}M", "-smp", "1", "-nographic", "-bios", "default", "-kernel", kernel, "-append", "console=ttyS0", "-no-reboot"]));
        }

        double ourMedian = Median(ours.Select(r => r.Seconds));
        double ourProcessMedian = Median(oursProcess);
        double translatedMedian = Median(translated.Select(r => r.Seconds));
        double translatedProcessMedian = Median(translatedProcess);
        ulong translatedInstructions = translated[0].Instructions;
        double qemuMedian = Median(qemu);
        ulong instructions = ours[0].Instructions;
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine($"kernel: {kernel} ({new FileInfo(kernel).Length} bytes), RAM {options.MemoryMiB} MiB, {options.Runs} runs each, medians");
        Console.WriteLine("| machine | start to `guest: ready` | guest instructions | guest MIPS |");
        Console.WriteLine("| --- | --- | --- | --- |");
        Console.WriteLine(string.Create(inv, $"| ours, in process (VM construction to ready) | {ourMedian:F3} s | {instructions / 1e6:F1} M | {instructions / ourMedian / 1e6:F1} |"));
        Console.WriteLine(string.Create(inv, $"| ours, `{(options.Backup is null ? "dotnet backup.dll" : options.Backup)} vm run` process start to ready | {ourProcessMedian:F3} s | {instructions / 1e6:F1} M | n/a |"));
        Console.WriteLine(string.Create(inv, $"| ours translated, in process (VM construction to ready) | {translatedMedian:F3} s | {translatedInstructions / 1e6:F1} M | {translatedInstructions / translatedMedian / 1e6:F1} |"));
        Console.WriteLine(string.Create(inv, $"| ours translated, `vm run --execution translated` process start to ready | {translatedProcessMedian:F3} s | {translatedInstructions / 1e6:F1} M | n/a |"));
        Console.WriteLine(string.Create(inv, $"| qemu-system-riscv64 (TCG, OpenSBI), process start to ready | {qemuMedian:F3} s | n/a | n/a |"));
        Console.WriteLine(string.Create(inv, $"ratio ours/qemu, both from process start: {ourProcessMedian / qemuMedian:F2}x (in process: {ourMedian / qemuMedian:F2}x)"));
        Console.WriteLine(string.Create(inv, $"ratio translated/qemu, both from process start: {translatedProcessMedian / qemuMedian:F2}x (in process: {translatedMedian / qemuMedian:F2}x); translated/interpreter in process: {translatedMedian / ourMedian:F2}x"));
        Console.WriteLine(string.Create(inv, $"translation (last in-process run): {translation.BlocksCompiled} blocks ({translation.InstructionsCompiled} instructions) compiled in {translation.CompileTime.TotalMilliseconds:F0} ms total, {translation.CompileTimePerBlock.TotalMicroseconds:F0} us per block; {translation.InstructionsTranslated / 1e6:F1} M instructions ran compiled in {translation.BlockRuns / 1e6:F2} M block runs; {translation.PagesInvalidated} code pages invalidated ({translation.BlocksInvalidated} blocks)"));
        return 0;
    }

    private static (double Seconds, ulong Instructions) BootOurs(string kernel, ulong memoryMiB, ExecutionMode mode, out TranslationStatistics translation)
    {
        var text = new StringBuilder();
        VirtualMachine? vmRef = null;
        var stopwatch = Stopwatch.StartNew();
        double readyAt = 0;
        ulong readyInstructions = 0;
        var config = new VmConfiguration
        {
            KernelPath = kernel,
            MemorySize = memoryMiB << 20,
            CommandLine = "console=ttyS0",
            Clock = ClockMode.RealTime,
            Execution = mode,
        };
        using var vm = new VirtualMachine(config, b =>
        {
            text.Append((char)b);
            if (b == '\n' && readyAt == 0 && text.ToString().Contains(Ready, StringComparison.Ordinal))
            {
                readyAt = stopwatch.Elapsed.TotalSeconds;
                readyInstructions = vmRef!.RetiredInstructions;
                vmRef.RequestStop("benchmark done");
            }
        });
        vmRef = vm;
        var exit = vm.Run();
        if (readyAt == 0)
        {
            throw new InvalidOperationException($"our VM never printed '{Ready}': {exit}\n{text}");
        }

        translation = vm.Harts.Select(h => h.TranslationStatistics).Aggregate((a, b) => a.Add(b));
        return (readyAt, readyInstructions);
    }

    /// <summary>Seconds from starting <paramref name="program"/> to the ready line on its stdout; kills it after.</summary>
    private static double TimeToReady(string program, string[] arguments)
    {
        var psi = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        var stopwatch = Stopwatch.StartNew();
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"{program} did not start");
        var seen = new StringBuilder();
        var buffer = new char[4096];
        try
        {
            while (stopwatch.Elapsed < TimeSpan.FromSeconds(120))
            {
                int n = process.StandardOutput.Read(buffer, 0, buffer.Length);
                if (n <= 0)
                {
                    break;
                }

                seen.Append(buffer, 0, n);
                if (seen.ToString().Contains(Ready, StringComparison.Ordinal))
                {
                    return stopwatch.Elapsed.TotalSeconds;
                }
            }

            throw new InvalidOperationException($"{program} never printed '{Ready}':\n{seen}");
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
