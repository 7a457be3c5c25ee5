using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Backup.Engine.Running;

namespace Backup.Engine.Tests.Support;

/// <summary>Collects the console lines of a VM and lets a test wait for one.</summary>
public sealed partial class ConsoleLines
{
    private readonly StringBuilder _text = new();

    public ConsoleLines(ConsoleTap tap) => tap.LineReceived += line =>
    {
        lock (_text)
        {
            _text.AppendLine(line);
        }
    };

    public string Text
    {
        get
        {
            lock (_text)
            {
                return _text.ToString();
            }
        }
    }

    /// <summary>The highest `workload: committed seq N` seen (a lower bound of what the database has committed).</summary>
    public long LastCommitted => Committed().Matches(Text).Select(m => long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).DefaultIfEmpty(0).Max();

    public async Task WaitForAsync(string text, ManagedVm vm, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Text.Contains(text, StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > deadline || vm.Exited.IsCompleted)
            {
                throw new TimeoutException($"'{text}' did not appear{(vm.Exited.IsCompleted ? $" (the VM stopped: {vm.Exited.Result.Message})" : string.Empty)}\n--- console ---\n{Text}");
            }

            await Task.Delay(100);
        }
    }

    [GeneratedRegex(@"workload: committed seq (\d+)")]
    private static partial Regex Committed();
}
