using System.Diagnostics;
using Backup.Disks.BlockDevices;
using Backup.Disks.Snapshots;
using Backup.Engine.Networks;
using Backup.Engine.Vms;
using Backup.Hypervisor.Machine;

namespace Backup.Engine.Running;

/// <summary>
/// A VM the appliance runs: its definition, its disks wrapped in change tracking (so backups read only what
/// changed and take point-in-time views while the guest writes), the machine on a thread of its own and its
/// console going to a <see cref="ConsoleTap"/>. Disposing stops the VM and closes the disks cleanly, which keeps
/// their changed-block maps trusted for the next backup.
/// </summary>
public sealed class ManagedVm : IDisposable
{
    private readonly List<IDisposable> _owned;
    private readonly Timer _consoleFlush;
    private readonly TaskCompletionSource<VmExit> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<TimeSpan> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<TimeSpan> _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Stopwatch _sinceStart;
    private int _disposed;

    private ManagedVm(VmDefinition definition, VirtualMachine machine, IReadOnlyList<TrackedDisk> disks, ConsoleTap console, List<IDisposable> owned, Stopwatch sinceStart)
    {
        Definition = definition;
        Machine = machine;
        Disks = disks;
        Console = console;
        _owned = owned;
        _sinceStart = sinceStart;
        console.LineReceived += line =>
        {
            if (line.Contains("guest: ready", StringComparison.Ordinal))
            {
                _ready.TrySetResult(_sinceStart.Elapsed);
            }
        };
        _consoleFlush = new Timer(_ => console.Flush(), null, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(100));
    }

    public VmDefinition Definition { get; }

    public string Name => Definition.Name;

    public VirtualMachine Machine { get; }

    /// <summary>The VM's disks, in definition order, each behind change tracking.</summary>
    public IReadOnlyList<TrackedDisk> Disks { get; }

    public ConsoleTap Console { get; }

    /// <summary>Completes when the VM stops, with why.</summary>
    public Task<VmExit> Exited => _exited.Task;

    /// <summary>Completes when the guest prints `guest: ready`, with the time since the start was requested.</summary>
    public Task<TimeSpan> Ready => _ready.Task;

    /// <summary>Completes when the machine's first instruction is about to run, with the time since the start was requested.</summary>
    public Task<TimeSpan> Started => _started.Task;

    /// <summary>
    /// Opens the VM's disk images behind change tracking (sidecars and snapshot stores in <paramref name="stateDirectory"/>)
    /// and boots the kernel. Throws <see cref="ArgumentException"/>/<see cref="DiskImageException"/> naming what is wrong.
    /// </summary>
    public static ManagedVm Boot(VmDefinition definition, string stateDirectory, ConsoleTap console, Action<string>? log = null, Stopwatch? since = null,
        NetworkFabric? networks = null)
    {
        ArgumentNullException.ThrowIfNull(definition);
        var clock = since ?? Stopwatch.StartNew();
        definition.Validate();
        var owned = new List<IDisposable>();
        try
        {
            var disks = OpenTracked(definition, stateDirectory, owned);
            var attachment = AttachNetworks(definition, networks, owned);
            var machine = new VirtualMachine(definition.ToConfiguration(disks, nics: attachment.Nics), console.Write, log);
            owned.Insert(0, machine);
            return Launch(definition, machine, disks, console, owned, clock);
        }
        catch
        {
            DisposeAll(owned);
            throw;
        }
    }

    /// <summary>
    /// Runs a VM over disks the caller opened (for example overlays over a restore point), booting the kernel at
    /// <paramref name="kernelPath"/> or, with <paramref name="stateChain"/>, resuming from a checkpoint. The disks are
    /// wrapped in change tracking with sidecars in <paramref name="stateDirectory"/> and disposed with the VM.
    /// </summary>
    public static ManagedVm Run(VmDefinition definition, IReadOnlyList<IBlockDevice> disks, string kernelPath, IReadOnlyList<string>? stateChain,
        string stateDirectory, ConsoleTap console, Action<string>? log = null, Stopwatch? since = null, NetworkFabric? networks = null) =>
        Run(definition, disks, kernelPath, stateDirectory, console, log, since, networks, config => stateChain is { Count: > 0 }
            ? VirtualMachine.Restore(config, stateChain, console.Write, log)
            : new VirtualMachine(config, console.Write, log));

    /// <summary>
    /// As <see cref="Run(VmDefinition, IReadOnlyList{IBlockDevice}, string, IReadOnlyList{string}?, string, ConsoleTap, Action{string}?, Stopwatch?)"/>,
    /// resuming from a full checkpoint read from <paramref name="state"/> as it arrives (disposed when read).
    /// </summary>
    public static ManagedVm Resume(VmDefinition definition, IReadOnlyList<IBlockDevice> disks, string kernelPath, Stream state, string stateSource,
        string stateDirectory, ConsoleTap console, Action<string>? log = null, Stopwatch? since = null, NetworkFabric? networks = null) =>
        Run(definition, disks, kernelPath, stateDirectory, console, log, since, networks, config => VirtualMachine.Restore(config, state, stateSource, console.Write, log));

    private static ManagedVm Run(VmDefinition definition, IReadOnlyList<IBlockDevice> disks, string kernelPath, string stateDirectory,
        ConsoleTap console, Action<string>? log, Stopwatch? since, NetworkFabric? networks, Func<VmConfiguration, VirtualMachine> create)
    {
        ArgumentNullException.ThrowIfNull(definition);
        ArgumentNullException.ThrowIfNull(disks);
        var clock = since ?? Stopwatch.StartNew();
        var owned = new List<IDisposable>();
        int wrapped = 0; // disks[..wrapped] are owned by their tracked wrappers once opened
        try
        {
            var tracked = new List<TrackedDisk>();
            for (int i = 0; i < disks.Count; i++)
            {
                var disk = TrackedDisk.Open(disks[i], new TrackedDiskOptions
                {
                    Granularity = definition.CbtGranularityOf(i),
                    SidecarPath = Path.Combine(stateDirectory, $"disk{i}.cbt"),
                    SideStoreDirectory = Path.Combine(stateDirectory, "snapshots"),
                });
                owned.Add(disk);
                tracked.Add(disk);
                wrapped = i + 1;
            }

            var attachment = AttachNetworks(definition, networks, owned);
            var config = definition.ToConfiguration(tracked, kernelPath, attachment.Nics);
            var machine = create(config);
            owned.Insert(0, machine);
            return Launch(definition, machine, tracked, console, owned, clock);
        }
        catch
        {
            DisposeAll(owned);
            foreach (var disk in disks.Skip(wrapped))
            {
                disk.Dispose();
            }

            throw;
        }
    }

    /// <summary>Sends keyboard input to the guest's console.</summary>
    public void SendInput(ReadOnlySpan<byte> data) => Machine.SendConsoleInput(data);

    /// <summary>Asks the VM to stop (a hard stop, as pulling the power) and waits for it.</summary>
    public async Task<VmExit> StopAsync(string reason, TimeSpan timeout)
    {
        Machine.RequestStop(reason);
        return await Exited.WaitAsync(timeout).ConfigureAwait(false);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Machine.RequestStop("the appliance closed the VM");
        Exited.Wait(TimeSpan.FromSeconds(30));
        _consoleFlush.Dispose();
        Console.Flush();
        DisposeAll(_owned);
    }

    private static ManagedVm Launch(VmDefinition definition, VirtualMachine machine, IReadOnlyList<TrackedDisk> disks, ConsoleTap console, List<IDisposable> owned, Stopwatch clock)
    {
        var vm = new ManagedVm(definition, machine, disks, console, owned, clock);
        var thread = new Thread(() =>
        {
            VmExit exit;
            try
            {
                vm._started.TrySetResult(clock.Elapsed);
                exit = machine.Run();
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or ArgumentException)
            {
                exit = new VmExit(VmExitKind.Error, 1, $"the VM failed: {e.Message}");
            }

            console.Flush();
            vm._ready.TrySetCanceled();
            vm._exited.TrySetResult(exit);
        })
        {
            IsBackground = true,
            Name = $"vm {definition.Name}",
        };
        thread.Start();
        return vm;
    }

    /// <summary>
    /// Plugs the VM's NICs into their networks (the attachment is disposed after the machine). A VM with NICs needs
    /// the fabric of the process that runs it.
    /// </summary>
    private static VmNetworkAttachment AttachNetworks(VmDefinition definition, NetworkFabric? networks, List<IDisposable> owned)
    {
        if (definition.Nics.Count > 0 && networks is null)
        {
            throw new ArgumentException($"VM '{definition.Name}' has network cards ({string.Join(", ", definition.Nics.Select(n => n.Network))}) but runs where no appliance network is available");
        }

        if (networks is null)
        {
            return VmNetworkAttachment.None;
        }

        var attachment = networks.Attach(definition);
        owned.Add(attachment);
        return attachment;
    }

    private static List<TrackedDisk> OpenTracked(VmDefinition definition, string stateDirectory, List<IDisposable> owned)
    {
        Directory.CreateDirectory(stateDirectory);
        var disks = new List<TrackedDisk>();
        for (int i = 0; i < definition.Disks.Count; i++)
        {
            var raw = RawFileDisk.Open(definition.Disks[i].Path, definition.Disks[i].ReadOnly);
            owned.Add(raw); // files last: disposed after the tracked disks above them
            var tracked = TrackedDisk.Open(raw, new TrackedDiskOptions
            {
                Granularity = definition.CbtGranularityOf(i),
                SidecarPath = Path.Combine(stateDirectory, $"disk{i}.cbt"),
                SideStoreDirectory = Path.Combine(stateDirectory, "snapshots"),
                LeaveInnerOpen = true,
            });
            owned.Insert(disks.Count, tracked);
            disks.Add(tracked);
        }

        return disks;
    }

    private static void DisposeAll(List<IDisposable> owned)
    {
        // In list order: the machine first, then the tracked disks, then the files beneath them.
        for (int i = 0; i < owned.Count; i++)
        {
            owned[i].Dispose();
        }
    }
}
