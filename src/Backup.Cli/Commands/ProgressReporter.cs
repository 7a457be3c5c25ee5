using System.Diagnostics;
using System.Globalization;
using Spectre.Console;

namespace Backup.Cli.Commands;

/// <summary>
/// Progress of a long operation on stderr: a Spectre.Console progress bar when stderr is a terminal, otherwise a plain
/// log line every few seconds (and one at the end), so logs of unattended runs stay readable.
/// </summary>
internal static class ProgressReporter
{
    private static readonly TimeSpan LogInterval = TimeSpan.FromSeconds(5);

    public static async Task<T> RunAsync<T>(string what, long total, bool bytes, Func<IProgress<long>, Task<T>> work)
    {
        if (!Console.IsErrorRedirected)
        {
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
            return await console.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
                .StartAsync(async context =>
                {
                    var task = context.AddTask(what, maxValue: Math.Max(1, total));
                    return await work(new Setter(value => task.Value = value)).ConfigureAwait(false);
                }).ConfigureAwait(false);
        }

        var stopwatch = Stopwatch.StartNew();
        var lastLog = TimeSpan.Zero;
        long latest = 0;
        var gate = new object();
        void Log(long value)
        {
            var seconds = Math.Max(stopwatch.Elapsed.TotalSeconds, 1e-3);
            var rate = bytes ? $", {value / seconds / (1 << 20):F1} MiB/s" : string.Empty;
            var percent = total > 0 ? $" ({100.0 * value / total:F0}%)" : string.Empty;
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{what}: {Format(value, bytes)} of {Format(total, bytes)}{percent}{rate}"));
        }

        var result = await work(new Setter(value =>
        {
            lock (gate)
            {
                latest = value;
                if (stopwatch.Elapsed - lastLog >= LogInterval)
                {
                    lastLog = stopwatch.Elapsed;
                    Log(value);
                }
            }
        })).ConfigureAwait(false);
        total = Math.Max(total, latest);
        Log(total);
        return result;
    }

    public static string Format(long value, bool bytes) => !bytes
        ? value.ToString(CultureInfo.InvariantCulture)
        : value switch
        {
            >= 1L << 30 => string.Create(CultureInfo.InvariantCulture, $"{value / (double)(1L << 30):F2} GiB"),
            >= 1L << 20 => string.Create(CultureInfo.InvariantCulture, $"{value / (double)(1L << 20):F1} MiB"),
            >= 1L << 10 => string.Create(CultureInfo.InvariantCulture, $"{value / 1024.0:F1} KiB"),
            _ => string.Create(CultureInfo.InvariantCulture, $"{value} B"),
        };

    private sealed class Setter(Action<long> set) : IProgress<long>
    {
        public void Report(long value) => set(value);
    }
}
