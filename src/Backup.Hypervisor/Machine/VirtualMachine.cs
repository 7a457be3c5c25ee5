using System.Collections.Concurrent;
using Backup.Hypervisor.Agent;
using Backup.Hypervisor.Boot;
using Backup.Hypervisor.Cpu;
using Backup.Hypervisor.Devices;
using Backup.Hypervisor.Devices.Htif;
using Backup.Hypervisor.Devices.Virtio;
using Backup.Hypervisor.DeviceTree;
using Backup.Hypervisor.Memory;
using Backup.Hypervisor.Sbi;
using Backup.Hypervisor.Timing;
using Backup.Hypervisor.Translation;
using Backup.Hypervisor.Translation.Cache;

namespace Backup.Hypervisor.Machine;

/// <summary>
/// One virtual machine: RAM, harts, devices and firmware, run round-robin on one thread. Built from a
/// <see cref="VmConfiguration"/>; <see cref="Run"/> executes it on the calling thread until it stops and says why,
/// <see cref="Start"/> runs it on a thread of its own. Several machines can run in one process: they share nothing.
/// </summary>
public sealed partial class VirtualMachine : IDisposable
{
    /// <summary>Where the agent channel's UART sits (after the console UART's 0x100-byte window) and its PLIC source.</summary>
    public const ulong AgentUartBase = 0x1000_0100;
    public const uint AgentUartIrq = 12;

    /// <summary>Where the kernel Image goes when its header does not say (RAM base + 2 MiB, as firmware does).</summary>
    public const ulong DefaultKernelOffset = LinuxBootLayout.DefaultKernelOffset;

    private readonly VmConfiguration _config;
    private readonly GuestRam _ram;
    private readonly SystemBus _bus;
    private readonly MachineClock _clock;
    private readonly Hart[] _harts;
    private readonly IPolledDevice[] _polled;
    private readonly Clint _clint;
    private readonly Uart16550 _uart;
    private readonly Plic _plic;
    private readonly List<Snapshots.IDeviceState> _stateParts = [];
    private readonly SbiServer? _sbi;
    private readonly HtifHost? _htif;
    private readonly Action<byte> _consoleOutput;
    private readonly Action<string>? _log;
    private readonly ConcurrentQueue<byte> _sbiInput = new();
    private readonly AutoResetEvent _wake = new(false);
    private readonly List<VirtioMmioTransport> _virtio = [];
    private volatile VmExit? _exitRequest;
    private volatile VmExit? _terminalExit;
    private VmExit? _hostFault;
    private ulong _runUntil;
    private int _runningThread;
    private Thread? _thread;
    private VmExit? _exit;

    /// <param name="config">What the VM is made of.</param>
    /// <param name="consoleOutput">Receives every byte the guest writes to its console (UART, SBI or HTIF).</param>
    /// <param name="log">Receives host-side diagnostics: guest errors reported by devices (malformed requests).</param>
    public VirtualMachine(VmConfiguration config, Action<byte> consoleOutput, Action<string>? log = null)
        : this(config, consoleOutput, log, loadImage: true)
    {
    }

    private VirtualMachine(VmConfiguration config, Action<byte> consoleOutput, Action<string>? log, bool loadImage)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate(imageNeeded: loadImage);
        _config = config;
        consoleOutput = WatchFirmwareConsole(config, consoleOutput);
        _consoleOutput = consoleOutput;
        _log = log;
        _clock = new MachineClock(config.Clock);
        _ram = new GuestRam(MachineDescription.DefaultRamBase, config.MemorySize);
        try
        {
            _bus = new SystemBus(_ram);
            bool linux = config.KernelPath is not null;
            _sbi = linux ? new SbiServer(consoleOutput, ReadSbiConsole, OnSystemReset) : null;
            _harts = new Hart[config.CpuCount];
            for (int i = 0; i < _harts.Length; i++)
            {
                // Only guest firmware gets PMP: kernel-mode harts have the host as M-mode, and bare-metal ELF harts
                // keep the machine their checkpoints were taken on (no PMP) so those restore unchanged.
                _harts[i] = new Hart(i, _bus, _clock, _sbi, pmpEntries: config.Firmware is null ? 0 : Hart.PmpEntries);
                if (config.Execution == ExecutionMode.Translated)
                {
                    _harts[i].EnableTranslation(TranslationCache.DefaultHotThreshold, background: !config.SynchronousTranslation);
                }
            }

            _sbi?.AttachHarts(_harts);
            Description = WithNics(WithQemuAgentSlot(WithPlatformDevices(MachineDescription.Default(config.CpuCount, config.MemorySize, config.CommandLine, config.Disks.Count) with
            {
                Isa = "rv64imafdc_zicsr_zifencei_sstc",
                AgentUart = config.AgentChannel ? new UartDescription { Base = AgentUartBase, Irq = AgentUartIrq } : null,
            }), config.QemuGuestAgent), config.Nics.Count);

            _clint = new Clint(_harts, _clock, Description.Clint!.Base);
            var plic = _plic = new Plic(_harts, (int)Description.Plic.SourceCount, Description.Plic.Base, Description.Plic.Size);
            _uart = new Uart16550(consoleOutput, plic.GetLine((int)Description.Uart!.Irq), Description.Uart.Base);
            var syscon = new SysconPower(OnPowerRequest, Description.TestDevice!.Base);
            _bus.Attach(_clint);
            _bus.Attach(plic);
            _bus.Attach(_uart);
            _bus.Attach(syscon);
            for (int i = 0; i < config.Disks.Count; i++)
            {
                var slot = Description.VirtioSlots[i];
                var backend = new VirtioBlockDevice(config.Disks[i], $"disk{i}", config.Disks[i].IsReadOnly);
                var transport = new VirtioMmioTransport(slot.Base, _ram, backend, plic.GetLine((int)slot.Irq), OnDeviceError, $"virtio-blk{i}");
                _virtio.Add(transport);
                _bus.Attach(transport);
            }

            _polled = [_clint, _uart];
            if (Description.AgentUart is { } agentUart)
            {
                Uart16550? channel = null;
                Agent = new GuestAgentClient(bytes =>
                {
                    channel!.EnqueueInput(bytes);
                    _wake.Set();
                });
                channel = new Uart16550(Agent.Receive, plic.GetLine((int)agentUart.Irq), agentUart.Base, "agent-uart");
                _bus.Attach(channel);
                _polled = [.. _polled, channel];
                _stateParts.Add(channel);
            }

            _stateParts.InsertRange(0, [.. _harts, _clock, _clint, _plic, _uart, .. _virtio]);
            _stateParts.AddRange(_harts.Where(h => h.PmpEntryCount > 0).Select(h => h.PmpState));
            if (_sbi is not null)
            {
                _stateParts.Add(_sbi);
            }

            _polled = [.. _polled, .. AttachPlatformDevices(plic, config.CommandLine), .. AttachQemuAgent(plic), .. AttachNics(plic)];

            if (loadImage)
            {
                if (config.Firmware is { } firmware)
                {
                    LoadFirmware(firmware);
                }
                else if (linux)
                {
                    Description = LoadLinux(Description, config.KernelPath!, config.InitrdPath);
                }
                else
                {
                    _htif = LoadElf(config.ElfPath!);
                }
            }
        }
        catch
        {
            DetachNics();
            _ram.Dispose();
            throw;
        }
    }

    /// <summary>The machine as its device tree describes it.</summary>
    public MachineDescription Description { get; }

    public IReadOnlyList<Hart> Harts => _harts;

    /// <summary>The guest agent on the agent channel, when <see cref="VmConfiguration.AgentChannel"/> is set.</summary>
    public GuestAgentClient? Agent { get; }

    public GuestRam Ram => _ram;

    public MachineClock Clock => _clock;

    /// <summary>Instructions retired by all harts.</summary>
    public ulong RetiredInstructions => _harts.Aggregate(0UL, (sum, h) => sum + h.Instret);

    /// <summary>The HTIF exit code and signature range of a bare-metal program, when one was loaded.</summary>
    public (ulong Begin, ulong End)? SignatureRange { get; private set; }

    /// <summary>Sends keyboard input to the guest console (any thread): the virtio console when the kernel's console is hvc0, else the SBI console once the guest reads it, else the UART.</summary>
    public void SendConsoleInput(ReadOnlySpan<byte> data)
    {
        _bootWatcher?.InputArrived();
        if (_inputToVirtioConsole)
        {
            _virtioConsole!.EnqueueInput(data);
        }
        else if (_sbi?.ConsoleInputUsed == true)
        {
            foreach (byte b in data)
            {
                _sbiInput.Enqueue(b);
            }
        }
        else
        {
            _uart.EnqueueInput(data);
        }

        _wake.Set();
    }

    /// <summary>Asks the VM to stop (any thread); <see cref="Run"/> returns <see cref="VmExitKind.Stopped"/>.</summary>
    public void RequestStop(string reason = "stopped by the host")
    {
        _exitRequest ??= new VmExit(VmExitKind.Stopped, 130, reason);
        _wake.Set();
    }

    /// <summary>Runs the VM on a dedicated thread; <see cref="WaitForExit"/> collects the result.</summary>
    public void Start()
    {
        if (_thread is not null)
        {
            throw new InvalidOperationException("the VM is already running");
        }

        _thread = new Thread(() => _exit = Run()) { IsBackground = true, Name = "vm" };
        _thread.Start();
    }

    public VmExit WaitForExit()
    {
        _thread?.Join();
        return _exit ?? throw new InvalidOperationException("the VM was not started");
    }

    public bool WaitForExit(TimeSpan timeout, out VmExit? exit)
    {
        bool done = _thread?.Join(timeout) ?? false;
        exit = done ? _exit : null;
        return done;
    }

    /// <summary>Runs until the machine has retired <paramref name="retiredInstructions"/> in total (or stops earlier).</summary>
    public VmExit RunUntil(ulong retiredInstructions)
    {
        _runUntil = retiredInstructions;
        try
        {
            return Run();
        }
        finally
        {
            _runUntil = 0;
        }
    }

    /// <summary>
    /// Runs until the guest powers off, fails, or the host stops it. Never throws for what happens inside the
    /// machine: a host-side exception while the guest runs (a device, a disk or the console sink failing in a way
    /// nothing expected) stops this VM with a <see cref="VmExitKind.Error"/> exit naming the exception, so the
    /// process and the other VMs in it carry on.
    /// </summary>
    public VmExit Run()
    {
        var exit = RunLoop();
        for (int i = 0; i < _config.Disks.Count; i++)
        {
            var disk = _config.Disks[i];
            if (disk.IsReadOnly)
            {
                continue;
            }

            try
            {
                disk.Flush();
            }
#pragma warning disable CA1031 // whatever the disk throws, the VM has ended: report it in the exit, never on the VM thread
            catch (Exception e)
#pragma warning restore CA1031
            {
                string failure = $"the final flush of disk{i} failed ({e.GetType().FullName}: {e.Message}): the guest's last writes may not be on the disk";
                Log(failure);
                if (exit.Succeeded)
                {
                    exit = new VmExit(VmExitKind.Error, 1, $"{exit.Message}, but {failure}");
                    _terminalExit = exit;
                }
            }
        }

        return exit;
    }

    private VmExit RunLoop()
    {
        Interlocked.Exchange(ref _runningThread, Environment.CurrentManagedThreadId);
        try
        {
            if (_hostFault is { } earlier)
            {
                return earlier; // a machine interrupted half-way through an instruction or device access never runs again
            }

            VmExit exit;
            try
            {
                exit = RunLoopCore();
            }
#pragma warning disable CA1031 // a host-side fault stops this VM only; the process and its other VMs carry on
            catch (Exception e)
#pragma warning restore CA1031
            {
                exit = _hostFault = new VmExit(VmExitKind.Error, 1,
                    $"host fault while the guest ran: {e.GetType().FullName}: {e.Message} (the VM was stopped; its state is not trustworthy past this point)");
                Log($"host fault on the VM thread: {e}");
            }

            if (exit.Kind is not VmExitKind.Stopped)
            {
                _terminalExit = exit; // powered off, rebooting, failed: there is no running machine left to cut
            }

            return exit;
        }
        finally
        {
            Interlocked.Exchange(ref _runningThread, 0);
            ServiceCheckpointRequests();
        }
    }

    private VmExit RunLoopCore()
    {
        int quantum = _config.Quantum;
        while (true)
        {
            ServiceCheckpointRequests();
            bool anyRunning = false;
            foreach (var hart in _harts)
            {
                if (hart.State != HartState.Running)
                {
                    continue;
                }

                ulong before = hart.Instret;
                hart.Run(quantum);
                _clock.Retire(hart.Instret - before);
                if (hart.FatalError is { } error)
                {
                    return new VmExit(VmExitKind.Error, 1, error);
                }

                anyRunning |= hart.State == HartState.Running;
            }

            if (_harts.Length > 1)
            {
                foreach (var hart in _harts)
                {
                    hart.ClearReservation();
                }
            }

            ulong now = _clock.Now;
            foreach (var device in _polled)
            {
                device.Poll(now);
            }

            foreach (var hart in _harts)
            {
                hart.UpdateTimer(now);
                if (hart.State == HartState.WaitingForInterrupt && hart.HasPendingInterrupt)
                {
                    hart.State = HartState.Running;
                    anyRunning = true;
                }
            }

            if (_htif is not null && _htif.Poll())
            {
                int code = _htif.ExitCode ?? 0;
                return new VmExit(VmExitKind.HtifExit, code, code == 0 ? "program passed (HTIF exit 0)" : $"program failed (HTIF exit {code})");
            }

            if (_exitRequest is { } request)
            {
                return request;
            }

            ulong limit = _runUntil != 0 ? _runUntil : _config.InstructionLimit;
            if (limit != 0 && _clock.RetiredInstructions >= limit)
            {
                return new VmExit(VmExitKind.Stopped, 124, $"instruction limit of {limit} reached");
            }

            if (!anyRunning && !Idle())
            {
                return new VmExit(VmExitKind.Error, 1, "every hart is stopped or waits for an interrupt that cannot arrive");
            }
        }
    }

    /// <summary>Waits for the next event while every hart idles. False when no event can ever come.</summary>
    private bool Idle()
    {
        if (_harts.All(h => h.State == HartState.Stopped))
        {
            return false;
        }

        ulong deadline = Math.Min(_clint.NextDeadline, _rtc!.NextDeadline);
        foreach (var hart in _harts)
        {
            deadline = Math.Min(deadline, hart.TimerCompare);
        }

        ulong now = _clock.Now;
        if (_clock.Mode == ClockMode.Deterministic && deadline != ulong.MaxValue)
        {
            _clock.SkipTo(deadline);
            return true;
        }

        // Real time, or deterministic with nothing scheduled: sleep until the deadline, input, or a stop request.
        TimeSpan wait = deadline == ulong.MaxValue ? TimeSpan.FromMilliseconds(100)
            : MachineClock.ToTimeSpan(deadline > now ? deadline - now : 0);
        if (wait > TimeSpan.FromMilliseconds(100))
        {
            wait = TimeSpan.FromMilliseconds(100);
        }

        if (wait > TimeSpan.Zero)
        {
            _wake.WaitOne(wait);
        }

        return true;
    }

    private void OnDeviceError(string message) => _log?.Invoke(message);

    /// <summary>Host diagnostics on the way out of a run: a failing log sink must not turn a clean stop into a crash.</summary>
    private void Log(string message)
    {
        try
        {
            _log?.Invoke(message);
        }
#pragma warning disable CA1031 // the message is also in the VmExit; losing the log line is the lesser harm
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    private int ReadSbiConsole() => _sbiInput.TryDequeue(out byte b) ? b : -1;

    private void OnSystemReset(SystemResetKind kind) =>
        _exitRequest ??= kind == SystemResetKind.Shutdown
            ? new VmExit(VmExitKind.PowerOff, 0, "the guest powered off")
            : new VmExit(VmExitKind.Reboot, 0, "the guest asked for a reboot");

    private void OnPowerRequest(PowerRequest request) =>
        _exitRequest ??= request.Kind switch
        {
            PowerRequestKind.PowerOff => new VmExit(VmExitKind.PowerOff, 0, "the guest powered off"),
            PowerRequestKind.Reboot => new VmExit(VmExitKind.Reboot, 0, "the guest asked for a reboot"),
            _ => new VmExit(VmExitKind.GuestFailure, request.ExitCode == 0 ? 1 : request.ExitCode, $"the guest reported failure (code {request.ExitCode})"),
        };

    private HtifHost? LoadElf(string path)
    {
        var elf = ElfImage.Load(path);
        elf.LoadInto(_ram);
        foreach (var hart in _harts)
        {
            hart.Start(elf.Entry, PrivilegeMode.Machine, (ulong)hart.HartId, 0);
        }

        if (elf.TryGetSymbol("begin_signature", out var begin) && elf.TryGetSymbol("end_signature", out var end) && end.Value >= begin.Value)
        {
            SignatureRange = (begin.Value, end.Value);
        }

        if (!elf.TryGetSymbol("tohost", out var toHost))
        {
            return null;
        }

        ulong? fromHost = elf.TryGetSymbol("fromhost", out var f) ? f.Value : null;
        return new HtifHost(_ram, toHost.Value, fromHost, _consoleOutput);
    }

    public void Dispose()
    {
        RequestStop("disposed");
        _thread?.Join();
        DetachNics();
        _ram.Dispose();
        _wake.Dispose();
        QemuAgent?.Dispose();
    }
}
