using System.Text.RegularExpressions;
using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Tests.Support;
using Backup.Hypervisor.Timing;
using Backup.Hypervisor.Translation;
using Backup.TestSupport;

namespace Backup.Hypervisor.Tests.Linux;

/// <summary>
/// The stock Debian guest with one NIC, booted with a static address and a console shell (/init's net.ip= and
/// net.shell=1), on our core (translated, real time). Commands are typed at its serial console; each ends with a
/// marker carrying its exit status, which the echo of the typed line cannot match.
/// </summary>
internal sealed partial class NetworkedGuest : IDisposable
{
    private readonly List<string> _deviceErrors = [];
    private int _scanFrom;

    private NetworkedGuest(string name, Func<Action<byte>, Action<string>, VirtualMachine> create)
    {
        Name = name;
        Vm = create(Console.Write, e =>
        {
            lock (_deviceErrors)
            {
                _deviceErrors.Add(e);
            }
        });
        Vm.Start();
    }

    public string Name { get; }

    public VirtualMachine Vm { get; }

    public ConsoleCapture Console { get; } = new();

    /// <summary>Device errors the VM logged (malformed requests from the guest).</summary>
    public IReadOnlyList<string> DeviceErrors
    {
        get
        {
            lock (_deviceErrors)
            {
                return [.. _deviceErrors];
            }
        }
    }

    public static VmConfiguration Config(DebianStockGuest guest, string address, VmNic nic) => new()
    {
        KernelPath = guest.KernelPath,
        InitrdPath = guest.InitrdPath,
        MemorySize = 256UL << 20,
        CommandLine = $"console=ttyS0 net.ip={address} net.shell=1",
        Clock = ClockMode.RealTime,
        Execution = ExecutionMode.Translated,
        Nics = [nic],
    };

    /// <summary>Boots a guest and waits for its shell.</summary>
    public static NetworkedGuest Boot(string name, VmConfiguration config)
    {
        var guest = new NetworkedGuest(name, (console, log) => new VirtualMachine(config, console, log));
        guest.WaitFor("debian-stock: shell", TimeSpan.FromMinutes(5));
        return guest;
    }

    /// <summary>Resumes a guest from a full checkpoint (its shell is already waiting).</summary>
    public static NetworkedGuest Resume(string name, VmConfiguration config, string checkpoint) =>
        new(name, (console, log) => VirtualMachine.Restore(config, [checkpoint], console, log));

    /// <summary>Waits until the console shows <paramref name="text"/>; fails with the console if it does not.</summary>
    public void WaitFor(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Console.Contains(text))
        {
            FailIfStoppedOrLate(deadline, $"'{text}'");
            Thread.Sleep(20);
        }
    }

    /// <summary>Types <paramref name="command"/> and returns without waiting; <see cref="Finish"/> collects it.</summary>
    public void Start(string command)
    {
        _scanFrom = Console.Text.Length;
        Vm.SendConsoleInput(System.Text.Encoding.ASCII.GetBytes(command + "; echo \"status-$?-end\"\n"));
    }

    /// <summary>Waits for the command started last to end; returns its exit status and what it printed.</summary>
    public (int Status, string Output) Finish(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            string text = Console.Text;
            var match = StatusMarker().Match(text, Math.Min(_scanFrom, text.Length));
            if (match.Success)
            {
                return (int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), text[_scanFrom..match.Index]);
            }

            FailIfStoppedOrLate(deadline, "the command's end");
            Thread.Sleep(20);
        }
    }

    /// <summary>Runs <paramref name="command"/> to its end and asserts it succeeded; returns what it printed.</summary>
    public string Run(string command, TimeSpan timeout)
    {
        Start(command);
        var (status, output) = Finish(timeout);
        Assert.True(status == 0, $"{Name}: '{command}' exited {status}\n--- output ---\n{output}\n--- device errors ---\n{string.Join('\n', DeviceErrors)}");
        return output;
    }

    public void Dispose() => Vm.Dispose();

    private void FailIfStoppedOrLate(DateTime deadline, string what)
    {
        string tail = Console.Text is { Length: > 4000 } t ? t[^4000..] : Console.Text;
        if (Vm.WaitForExit(TimeSpan.Zero, out var exit))
        {
            Assert.Fail($"{Name} stopped ({exit}) before {what}\n--- console ---\n{tail}");
        }

        if (DateTime.UtcNow > deadline)
        {
            Assert.Fail($"{Name}: no {what} in time\n--- console ---\n{tail}\n--- device errors ---\n{string.Join('\n', DeviceErrors)}");
        }
    }

    [GeneratedRegex(@"status-(\d+)-end")]
    private static partial Regex StatusMarker();
}
