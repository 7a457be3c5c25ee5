namespace Backup.Hypervisor.Cpu;

public sealed unsafe partial class Hart
{
    /// <summary>Records a synchronous exception for the run loop to take; always returns false for chaining.</summary>
    private bool RaiseException(ulong cause, ulong tval)
    {
        _trapCause = cause;
        _trapValue = tval;
        return false;
    }

    /// <summary>Enters the trap handler for <paramref name="cause"/> raised at <paramref name="pc"/>; returns the new pc.</summary>
    private ulong EnterTrap(ulong pc, ulong cause, ulong tval)
    {
        bool interrupt = (cause & TrapCause.InterruptFlag) != 0;
        int code = (int)(cause & 63);
        ulong deleg = interrupt ? _mideleg : _medeleg;
        bool toSupervisor = _mode != PrivilegeMode.Machine && ((deleg >> code) & 1) != 0;
        _breakQuantum = true;

        if (toSupervisor)
        {
            _sepc = pc;
            _scause = cause;
            _stval = tval;
            ulong s = _mstatus;
            s = (s & MstatusBits.SIE) != 0 ? s | MstatusBits.SPIE : s & ~MstatusBits.SPIE;
            s &= ~MstatusBits.SIE;
            s = _mode == PrivilegeMode.Supervisor ? s | MstatusBits.SPP : s & ~MstatusBits.SPP;
            _mstatus = s;
            _mode = PrivilegeMode.Supervisor;
            UpdateMmuContext();
            ulong vecBase = _stvec & ~3UL;
            return interrupt && (_stvec & 1) != 0 ? vecBase + (4UL * (ulong)code) : vecBase;
        }

        if (Firmware is not null)
        {
            // The host serves M-mode: nothing in the guest can handle this trap.
            Fatal($"trap to M-mode with no M-mode firmware (cause {(interrupt ? "interrupt " : "")}{code}, tval 0x{tval:x}, pc 0x{pc:x}, mode {_mode})");
        }

        _mepc = pc;
        _mcause = cause;
        _mtval = tval;
        ulong m = _mstatus;
        m = (m & MstatusBits.MIE) != 0 ? m | MstatusBits.MPIE : m & ~MstatusBits.MPIE;
        m &= ~MstatusBits.MIE;
        m = (m & ~MstatusBits.MPP) | ((ulong)_mode << MstatusBits.MppShift);
        _mstatus = m;
        _mode = PrivilegeMode.Machine;
        UpdateMmuContext();
        ulong mBase = _mtvec & ~3UL;
        return interrupt && (_mtvec & 1) != 0 ? mBase + (4UL * (ulong)code) : mBase;
    }

    /// <summary>The highest-priority interrupt that may be taken now, or 0.</summary>
    private ulong PendingInterruptCause()
    {
        ulong pending = _mip & _mie;
        if (pending == 0)
        {
            return 0;
        }

        ulong machine = pending & ~_mideleg;
        if (machine != 0 && (_mode < PrivilegeMode.Machine || (_mstatus & MstatusBits.MIE) != 0))
        {
            return SelectByPriority(machine);
        }

        ulong supervisor = pending & _mideleg;
        if (supervisor != 0 && (_mode < PrivilegeMode.Supervisor || (_mode == PrivilegeMode.Supervisor && (_mstatus & MstatusBits.SIE) != 0)))
        {
            return SelectByPriority(supervisor);
        }

        return 0;
    }

    private static ulong SelectByPriority(ulong bits)
    {
        // Privileged spec 3.1.9: MEI, MSI, MTI, SEI, SSI, STI.
        ulong code = (bits & InterruptBits.MEIP) != 0 ? TrapCause.MachineExternalInterrupt
            : (bits & InterruptBits.MSIP) != 0 ? TrapCause.MachineSoftwareInterrupt
            : (bits & InterruptBits.MTIP) != 0 ? TrapCause.MachineTimerInterrupt
            : (bits & InterruptBits.SEIP) != 0 ? TrapCause.SupervisorExternalInterrupt
            : (bits & InterruptBits.SSIP) != 0 ? TrapCause.SupervisorSoftwareInterrupt
            : TrapCause.SupervisorTimerInterrupt;
        return code | TrapCause.InterruptFlag;
    }

    private ulong ExecuteMret()
    {
        ulong m = _mstatus;
        var previous = (PrivilegeMode)((m >> MstatusBits.MppShift) & 3);
        m = (m & MstatusBits.MPIE) != 0 ? m | MstatusBits.MIE : m & ~MstatusBits.MIE;
        m |= MstatusBits.MPIE;
        m &= ~MstatusBits.MPP;
        if (previous != PrivilegeMode.Machine)
        {
            m &= ~MstatusBits.MPRV;
        }

        _mstatus = m;
        _mode = previous;
        _breakQuantum = true;
        UpdateMmuContext();
        return _mepc;
    }

    private ulong ExecuteSret()
    {
        ulong s = _mstatus;
        var previous = (s & MstatusBits.SPP) != 0 ? PrivilegeMode.Supervisor : PrivilegeMode.User;
        s = (s & MstatusBits.SPIE) != 0 ? s | MstatusBits.SIE : s & ~MstatusBits.SIE;
        s |= MstatusBits.SPIE;
        s &= ~MstatusBits.SPP;
        s &= ~MstatusBits.MPRV;
        _mstatus = s;
        _mode = previous;
        _breakQuantum = true;
        UpdateMmuContext();
        return _sepc;
    }

    /// <summary>
    /// Takes the trap recorded in <c>_trapCause</c>/<c>_trapValue</c> for the instruction at <paramref name="pc"/>
    /// (then any interrupt that became takeable) and returns the new pc. Stops the machine when the guest traps
    /// over and over without retiring anything. Shared by the interpreter and the translated tier.
    /// </summary>
    private ulong TakeTrap(ulong pc)
    {
        if (_instret == _instretAtLastTrap && ++_trapsWithoutProgress >= MaxTrapsWithoutProgress)
        {
            Fatal($"the guest is stuck: {MaxTrapsWithoutProgress} traps in a row without executing an instruction (last: cause {_trapCause}, tval 0x{_trapValue:x}, pc 0x{pc:x}, mode {_mode}, stvec 0x{_stvec:x}, mtvec 0x{_mtvec:x})");
            return pc;
        }

        if (_instret != _instretAtLastTrap)
        {
            _trapsWithoutProgress = 0;
            _instretAtLastTrap = _instret;
        }

        pc = EnterTrap(pc, _trapCause, _trapValue);
        if (FatalError is not null)
        {
            return pc;
        }

        _breakQuantum = false;
        ulong irq = PendingInterruptCause();
        if (irq != 0)
        {
            pc = EnterTrap(pc, irq, 0);
            _breakQuantum = false;
        }

        return pc;
    }

    /// <summary>Consecutive traps with no instruction retired in between after which the VM is stopped.</summary>
    internal const int MaxTrapsWithoutProgress = 10_000;

    private ulong _instretAtLastTrap = ulong.MaxValue;
    private int _trapsWithoutProgress;
}
