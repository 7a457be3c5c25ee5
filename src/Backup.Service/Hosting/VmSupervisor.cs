using System.Collections.Concurrent;
using Backup.Engine.Networks;
using Backup.Engine.Running;
using Backup.Hypervisor.Machine;
using Backup.Service.Catalog;
using Backup.Service.Data;
using Backup.Service.Networks;
using Backup.Service.Vms;
using Microsoft.Extensions.Logging;

namespace Backup.Service.Hosting;

/// <summary>
/// Runs the data folder's VMs in the background, each on its own thread with its console logged to
/// vms/NAME/console.log, restarting a guest that reboots and recording each state change in the catalog. Only the
/// data folder's lock holder has a supervisor, so a VM's disks are never opened by two processes.
/// </summary>
public sealed class VmSupervisor : IDisposable
{
    private readonly ApplianceData _data;
    private readonly VmStore _store;
    private readonly ApplianceCatalog _catalog;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, Entry> _running = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private bool _closing;

    public VmSupervisor(ApplianceData data, VmStore store, ApplianceCatalog catalog, ILogger logger)
    {
        _data = data;
        _store = store;
        _catalog = catalog;
        _logger = logger;
        var networks = new NetworkStore(data);
        Networks = new NetworkFabric(networks.Get, data.NetworkLeasesPath);
    }

    /// <summary>The appliance networks this process runs (started with the first VM on each).</summary>
    public NetworkFabric Networks { get; }

    /// <summary>The running VM of that name, or null.</summary>
    public ManagedVm? Find(string name) => _running.TryGetValue(name, out var entry) ? entry.Vm : null;

    /// <summary>Names of the running VMs.</summary>
    public IReadOnlyCollection<string> RunningNames => _running.Keys.Order(StringComparer.Ordinal).ToArray();

    /// <summary>Starts a VM; throws <see cref="ArgumentException"/> if unknown, already running or its definition is damaged.</summary>
    public ManagedVm Start(string name)
    {
        var definition = _store.Get(name);
        lock (_gate)
        {
            if (_closing)
            {
                throw new InvalidOperationException("the appliance is shutting down");
            }

            if (_running.ContainsKey(name))
            {
                throw new ArgumentException($"VM '{name}' is already running");
            }

            var tap = new ConsoleTap(_data.VmConsoleLog(name));
            ManagedVm vm;
            try
            {
                vm = ManagedVm.Boot(definition, _data.VmStateDirectory(name), tap, message => _logger.LogInformation("vm {Vm}: {Message}", name, message), networks: Networks);
            }
            catch
            {
                tap.Dispose();
                throw;
            }

            var entry = new Entry(vm, tap);
            _running[name] = entry;
            _catalog.RecordVmState(name, "running");
            _logger.LogInformation("VM {Vm} started ({Memory} MiB, {Disks} disks)", name, definition.MemoryBytes >> 20, definition.Disks.Count);
            _ = vm.Exited.ContinueWith(exited => OnExited(name, entry, exited.Result), TaskScheduler.Default);
            return vm;
        }
    }

    /// <summary>Stops a running VM (a hard stop: the guest's filesystems recover through their journals).</summary>
    public async Task<VmExit> StopAsync(string name, TimeSpan timeout)
    {
        if (!_running.TryGetValue(name, out var entry))
        {
            throw new ArgumentException($"VM '{name}' is not running");
        }

        entry.StopRequested = true;
        var exit = await entry.Vm.StopAsync("stopped by the operator", timeout).ConfigureAwait(false);
        await entry.Closed.Task.WaitAsync(timeout).ConfigureAwait(false);
        return exit;
    }

    /// <summary>Starts every VM marked autostart; a VM that fails to start is logged and the others still start.</summary>
    public void StartAutostart()
    {
        var (definitions, problems) = _store.List();
        foreach (string problem in problems)
        {
            _logger.LogError("VM definition skipped: {Problem}", problem);
        }

        foreach (var definition in definitions.Where(d => d.Autostart))
        {
            try
            {
                Start(definition.Name);
            }
            catch (Exception e) when (e is ArgumentException or IOException or FormatException or InvalidOperationException or UnauthorizedAccessException)
            {
                _logger.LogError("VM {Vm} did not start: {Reason}", definition.Name, e.Message);
                _catalog.RecordVmState(definition.Name, $"failed to start: {e.Message}");
            }
        }
    }

    /// <summary>Stops every VM and closes their disks cleanly (keeping their changed-block maps trusted).</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _closing = true;
        }

        foreach (var entry in _running.Values)
        {
            entry.StopRequested = true;
            entry.Vm.Machine.RequestStop("the appliance is shutting down");
        }

        foreach (var entry in _running.Values.ToArray())
        {
            entry.Closed.Task.Wait(TimeSpan.FromSeconds(30));
        }

        Networks.Dispose();
    }

    private void OnExited(string name, Entry entry, VmExit exit)
    {
        // Close the VM (disks, change tracking) before anything else may open its disks again.
        entry.Vm.Dispose();
        entry.Tap.Dispose();
        _running.TryRemove(new KeyValuePair<string, Entry>(name, entry));
        bool restart = exit.Kind == VmExitKind.Reboot && !entry.StopRequested;
        string state = exit.Kind == VmExitKind.Reboot && restart ? "rebooting" : $"stopped: {exit.Message}";
        _catalog.RecordVmState(name, state);
        _logger.LogInformation("VM {Vm} {State}", name, state);
        entry.Closed.TrySetResult();
        if (restart)
        {
            try
            {
                Start(name);
            }
            catch (Exception e) when (e is ArgumentException or IOException or FormatException or InvalidOperationException or UnauthorizedAccessException)
            {
                _logger.LogError("VM {Vm} did not restart after its reboot: {Reason}", name, e.Message);
                _catalog.RecordVmState(name, $"failed to restart: {e.Message}");
            }
        }
    }

    private sealed class Entry(ManagedVm vm, ConsoleTap tap)
    {
        public ManagedVm Vm { get; } = vm;

        public ConsoleTap Tap { get; } = tap;

        public volatile bool StopRequested;

        public TaskCompletionSource Closed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
