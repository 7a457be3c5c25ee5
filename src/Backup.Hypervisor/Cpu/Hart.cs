using System.Runtime.CompilerServices;
using Backup.Hypervisor.Memory;
using Backup.Hypervisor.Mmu;
using Backup.Hypervisor.Timing;

namespace Backup.Hypervisor.Cpu;

/// <summary>
/// One RV64GC hart (IMAFDC, Zicsr, Zifencei) with M, S and U modes, Sstc and Sv39 paging, executed by an interpreter or,
/// once <see cref="EnableTranslation(int)"/> is called, by the translated tier (hot blocks compiled to native code,
/// see docs/translation.md) with the interpreter for everything else.
/// State lives in plain fields so a checkpoint can capture it; guest memory is reached through a software TLB
/// that caches host pointers into guest RAM. Everything a guest does is contained: a bad access is a trap to
/// the guest, never a host exception.
/// </summary>
public sealed unsafe partial class Hart : IInterruptTarget
{
    /// <summary>misa: RV64 (MXL=2) with A, C, D, F, I, M, S, U (RV64GC with S and U modes).</summary>
    public const ulong MisaValue = (2UL << 62) | (1 << 0) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8) | (1 << 12) | (1 << 18) | (1 << 20);

    private readonly SystemBus _bus;
    private readonly GuestRam _ram;
    private readonly MachineClock _clock;
    private readonly ulong[] _xArray = GC.AllocateArray<ulong>(32, pinned: true);
    private readonly ulong* _x;

    internal ulong _pc; // translated blocks store their exit pc here
    private PrivilegeMode _mode = PrivilegeMode.Machine;
    internal ulong _instret; // translated blocks add their retired count at exit

    // One cycle per retired instruction: mcycle = instret + offset, the offset set by writes to mcycle.
    private ulong _cycleOffset;

    // Trap CSRs
    internal ulong _mstatus = MstatusBits.UXL | MstatusBits.SXL; // translated FP code checks FS and sets Dirty
    private ulong _medeleg, _mideleg, _mie, _mip, _mtvec, _mscratch, _mepc, _mcause, _mtval;
    private ulong _stvec, _sscratch, _sepc, _scause, _stval;
    private ulong _mcounteren, _scounteren, _menvcfg, _senvcfg;
    private ulong _satp;
    private ulong _stimecmp = ulong.MaxValue;
    private bool _seipSoftware, _seipHardware;

    // LR/SC
    private ulong _reservation = ulong.MaxValue;

    // Pending trap produced by a helper that returned false.
    private ulong _trapCause, _trapValue;

    // Set when something changed that may make an interrupt takeable: the run loop ends its quantum.
    private bool _breakQuantum;

    /// <param name="hartId">mhartid.</param>
    /// <param name="bus">RAM and devices.</param>
    /// <param name="clock">The machine clock (time CSR, Sstc).</param>
    /// <param name="firmware">Host firmware serving S-mode ECALLs, or null when guest code owns M-mode.</param>
    /// <param name="pmpEntries">
    /// PMP entries to implement: 0 or <see cref="PmpEntries"/>; null means <see cref="PmpEntries"/> unless the host
    /// serves M-mode (<paramref name="firmware"/> set), whose harts have nothing to protect and implement none.
    /// </param>
    public Hart(int hartId, SystemBus bus, MachineClock clock, ISupervisorCallHandler? firmware = null, int? pmpEntries = null)
    {
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentNullException.ThrowIfNull(clock);
        HartId = hartId;
        _bus = bus;
        _ram = bus.Ram;
        _clock = clock;
        Firmware = firmware;
        _x = (ulong*)Unsafe.AsPointer(ref _xArray[0]);
        _f = (ulong*)Unsafe.AsPointer(ref _fArray[0]);
        _tlb = GC.AllocateArray<TlbEntry>(TlbSets * TlbTypes * TlbSize, pinned: true);
        _tlbBase = (TlbEntry*)Unsafe.AsPointer(ref _tlb[0]);
        InitializePmp(pmpEntries ?? (firmware is null ? PmpEntries : 0));
        FlushTlbAll(includeIdentity: true);
        UpdateMmuContext();
    }

    /// <inheritdoc />
    public int HartId { get; }

    /// <summary>The host firmware serving S-mode ECALLs, or null (bare-metal: ECALLs trap to M-mode).</summary>
    public ISupervisorCallHandler? Firmware { get; }

    public HartState State { get; set; } = HartState.Running;

    /// <summary>Set when the hart hit something the machine must stop on (e.g. a trap to M-mode with host firmware).</summary>
    public string? FatalError { get; private set; }

    public ulong Pc
    {
        get => _pc;
        set => _pc = value;
    }

    public PrivilegeMode Mode => _mode;

    /// <summary>Retired instructions (minstret).</summary>
    public ulong Instret => _instret;

    /// <summary>The Sstc / SBI timer compare value.</summary>
    public ulong TimerCompare => _stimecmp;

    /// <summary>True when an enabled interrupt is pending (wakes the hart from WFI).</summary>
    public bool HasPendingInterrupt => (_mip & _mie) != 0;

    public ulong GetRegister(int index) => _x[index & 31];

    public void SetRegister(int index, ulong value)
    {
        if ((index & 31) != 0)
        {
            _x[index & 31] = value;
        }
    }

    /// <summary>Puts the hart at <paramref name="entry"/> in <paramref name="mode"/> with a0/a1 set, as firmware hands over to a kernel.</summary>
    public void Start(ulong entry, PrivilegeMode mode, ulong a0, ulong a1)
    {
        _pc = entry;
        _mode = mode;
        SetRegister(10, a0);
        SetRegister(11, a1);
        _satp = 0;
        if (mode == PrivilegeMode.Supervisor)
        {
            _mstatus &= ~MstatusBits.SIE;
        }

        State = HartState.Running;
        FlushTlbAll(includeIdentity: false);
        UpdateMmuContext();
    }

    /// <summary>
    /// Configures the M-mode state the host firmware provides before entering S-mode: all delegable traps and
    /// S interrupts go to S, counters are readable, Sstc is enabled, and U-mode may read <c>time</c>.
    /// </summary>
    /// <remarks>
    /// Linux enables U-mode <c>rdtime</c> (scounteren.TM, which glibc's vDSO clock_gettime needs) only in its SBI
    /// PMU driver; the host SBI has no PMU extension, so without this every user-space clock_gettime of a Debian
    /// system died with SIGILL on <c>csrr a5, time</c>. scounteren's reset value is unspecified; TM alone is what
    /// Linux 6.12's PMU driver sets.
    /// </remarks>
    public void ConfigureHostFirmware()
    {
        _medeleg = 0xB3FF & ~(1UL << (int)TrapCause.EnvironmentCallFromS);
        _mideleg = InterruptBits.SSIP | InterruptBits.STIP | InterruptBits.SEIP;
        _mcounteren = 0xFFFF_FFFF;
        _scounteren = 1UL << (Csr.Time - Csr.Cycle);
        _menvcfg = MenvcfgStce;
        _mie = 0;
    }

    /// <inheritdoc />
    public void SetInterruptPending(ulong bits, bool level)
    {
        if ((bits & InterruptBits.SEIP) != 0)
        {
            _seipHardware = level;
            bits &= ~InterruptBits.SEIP;
            _mip = (_seipSoftware || _seipHardware) ? _mip | InterruptBits.SEIP : _mip & ~InterruptBits.SEIP;
        }

        _mip = level ? _mip | bits : _mip & ~bits;
        _breakQuantum = true;
    }

    /// <summary>Re-evaluates the Sstc timer against the current time (called between quanta).</summary>
    public void UpdateTimer(ulong now)
    {
        if (SstcActive)
        {
            bool fire = now >= _stimecmp;
            if (fire != ((_mip & InterruptBits.STIP) != 0))
            {
                _mip = fire ? _mip | InterruptBits.STIP : _mip & ~InterruptBits.STIP;
            }
        }
    }

    /// <summary>Sets the S-mode timer compare (SBI set_timer) and re-evaluates STIP.</summary>
    public void SetTimerCompare(ulong value)
    {
        _stimecmp = value;
        UpdateTimer(_clock.Now);
        _breakQuantum = true;
    }

    /// <summary>Cancels any LR reservation (another hart ran in between).</summary>
    public void ClearReservation() => _reservation = ulong.MaxValue;

    private const ulong MenvcfgStce = 1UL << 63;

    private bool SstcActive => (_menvcfg & MenvcfgStce) != 0 || Firmware is not null;

    private void Fatal(string message)
    {
        FatalError ??= $"hart {HartId}: {message}";
        _breakQuantum = true;
    }
}
