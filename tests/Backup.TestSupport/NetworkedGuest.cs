using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Timing;
using Backup.Hypervisor.Translation;

namespace Backup.TestSupport;

/// <summary>
/// The stock Debian guest with one NIC, booted with a static address and a console shell (/init's net.ip= and
/// net.shell=1), on our core (translated, real time), driven at its serial console.
/// </summary>
public sealed class NetworkedGuest : ConsoleDrivenGuest
{
    private readonly List<string> _deviceErrors = [];
    private readonly System.Text.StringBuilder _console = new();
    private readonly Lock _lock = new();

    private NetworkedGuest(string name, Func<Action<byte>, Action<string>, VirtualMachine> create)
        : base(name)
    {
        Vm = create(b =>
        {
            lock (_lock)
            {
                _console.Append((char)b);
            }
        }, e =>
        {
            lock (_deviceErrors)
            {
                _deviceErrors.Add(e);
            }
        });
        Vm.Start();
    }

    public VirtualMachine Vm { get; }

    /// <inheritdoc />
    public override string ConsoleText
    {
        get
        {
            lock (_lock)
            {
                return _console.ToString();
            }
        }
    }

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

    /// <summary>The guest with <paramref name="nic"/>; <paramref name="address"/> is a static ADDR/PREFIX, or "dhcp".</summary>
    public static VmConfiguration Config(DebianStockGuest guest, string address, VmNic nic, string extraArguments = "") => new()
    {
        KernelPath = guest.KernelPath,
        InitrdPath = guest.InitrdPath,
        MemorySize = 256UL << 20,
        CommandLine = $"console=ttyS0 {(address == "dhcp" ? "net.dhcp=1" : $"net.ip={address}")} net.shell=1 {extraArguments}".TrimEnd(),
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

    public override void Dispose() => Vm.Dispose();

    /// <inheritdoc />
    protected override void Type(string text) => Vm.SendConsoleInput(System.Text.Encoding.ASCII.GetBytes(text));

    /// <inheritdoc />
    protected override string? Ended() => Vm.WaitForExit(TimeSpan.Zero, out var exit) ? exit?.ToString() : null;

    /// <inheritdoc />
    protected override string Diagnostics() => "--- device errors ---\n" + string.Join('\n', DeviceErrors);
}
