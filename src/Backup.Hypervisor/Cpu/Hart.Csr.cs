namespace Backup.Hypervisor.Cpu;

public sealed unsafe partial class Hart
{
    private const ulong MieWritable = 0xAAA;
    private const ulong SupervisorInterrupts = InterruptBits.SSIP | InterruptBits.STIP | InterruptBits.SEIP;
    private const ulong MedelegWritable = 0xB3FF;

    /// <summary>Executes a Zicsr instruction. False = illegal instruction.</summary>
    private bool ExecuteCsr(uint inst)
    {
        int csr = (int)(inst >> 20);
        uint f3 = (inst >> 12) & 7;
        int rd = (int)((inst >> 7) & 31);
        uint rs1 = (inst >> 15) & 31;
        ulong operand = f3 >= 5 ? rs1 : _x[rs1];

        bool writes = (f3 & 3) == 1 || rs1 != 0;
        bool reads = (f3 & 3) != 1 || rd != 0;
        if (!CsrPermitted(csr, writes))
        {
            return false;
        }

        ulong old = 0;
        if (reads || (f3 & 3) != 1)
        {
            if (!ReadCsr(csr, out old))
            {
                return false;
            }
        }
        else if (!CsrExists(csr))
        {
            return false;
        }

        if (writes)
        {
            // Privileged spec 3.1.9: only the software-writable SEIP bit takes part in a read-modify-write of mip.
            ulong basis = csr == Csr.Mip ? (old & ~InterruptBits.SEIP) | (_seipSoftware ? InterruptBits.SEIP : 0) : old;
            ulong value = (f3 & 3) switch
            {
                1 => operand,
                2 => basis | operand,
                _ => basis & ~operand,
            };
            if (!WriteCsr(csr, value))
            {
                return false;
            }
        }

        if (rd != 0)
        {
            _x[rd] = old;
        }

        return true;
    }

    private bool CsrPermitted(int csr, bool write)
    {
        if (write && (csr >> 10) == 3)
        {
            return false; // read-only CSR
        }

        if ((int)_mode < ((csr >> 8) & 3))
        {
            return false;
        }

        if (csr >= Csr.Cycle && csr <= Csr.HpmCounter31)
        {
            int bit = csr - Csr.Cycle;
            if (_mode < PrivilegeMode.Machine && ((_mcounteren >> bit) & 1) == 0)
            {
                return false;
            }

            if (_mode == PrivilegeMode.User && ((_scounteren >> bit) & 1) == 0)
            {
                return false;
            }
        }

        if (_mode == PrivilegeMode.Supervisor)
        {
            if (csr == Csr.Satp && (_mstatus & MstatusBits.TVM) != 0)
            {
                return false;
            }

            if (csr == Csr.Stimecmp && ((_menvcfg & MenvcfgStce) == 0 || (_mcounteren & 2) == 0))
            {
                return false;
            }
        }

        return true;
    }

    private bool CsrExists(int csr) => ReadCsr(csr, out _);

    private bool ReadCsr(int csr, out ulong value)
    {
        value = 0;
        switch (csr)
        {
            case Csr.Fflags or Csr.Frm or Csr.Fcsr:
                value = csr == Csr.Fflags ? _fflags : csr == Csr.Frm ? _frm : FloatControl;
                return !FloatOff;
            case Csr.Instret or Csr.Minstret: value = _instret; return true;
            case Csr.Cycle or Csr.Mcycle: value = _instret + _cycleOffset; return true;
            case Csr.Time: value = _clock.Now; return true;
            case >= Csr.HpmCounter3 and <= Csr.HpmCounter31: return true;
            case >= Csr.Mhpmcounter3 and <= Csr.Mhpmcounter31: return true;
            case >= Csr.Mhpmevent3 and <= Csr.Mhpmevent31: return true;
            case Csr.Mcountinhibit: return true;

            case Csr.Sstatus: value = _mstatus & MstatusBits.SstatusMask; return true;
            case Csr.Sie: value = _mie & _mideleg; return true;
            case Csr.Stvec: value = _stvec; return true;
            case Csr.Scounteren: value = _scounteren; return true;
            case Csr.Senvcfg: value = _senvcfg; return true;
            case Csr.Sscratch: value = _sscratch; return true;
            case Csr.Sepc: value = _sepc; return true;
            case Csr.Scause: value = _scause; return true;
            case Csr.Stval: value = _stval; return true;
            case Csr.Sip: value = _mip & _mideleg; return true;
            case Csr.Stimecmp: value = _stimecmp; return true;
            case Csr.Satp: value = _satp; return true;

            case Csr.Mvendorid or Csr.Marchid or Csr.Mimpid or Csr.Mconfigptr: return true;
            case Csr.Mhartid: value = (ulong)HartId; return true;
            case Csr.Mstatus: value = _mstatus; return true;
            case Csr.Misa: value = MisaValue; return true;
            case Csr.Medeleg: value = _medeleg; return true;
            case Csr.Mideleg: value = _mideleg; return true;
            case Csr.Mie: value = _mie; return true;
            case Csr.Mtvec: value = _mtvec; return true;
            case Csr.Mcounteren: value = _mcounteren; return true;
            case Csr.Menvcfg: value = _menvcfg; return true;
            case Csr.Mscratch: value = _mscratch; return true;
            case Csr.Mepc: value = _mepc; return true;
            case Csr.Mcause: value = _mcause; return true;
            case Csr.Mtval: value = _mtval; return true;
            case Csr.Mip: value = _mip; return true;
            case Csr.Mtinst or Csr.Mtval2: return false;
            case >= Csr.Pmpcfg0 and <= Csr.Pmpcfg15: return true; // no PMP entries implemented: read-only zero
            case >= Csr.Pmpaddr0 and <= Csr.Pmpaddr63: return true;
            case Csr.Mseccfg: return true;
            case Csr.Tselect or Csr.Tdata1 or Csr.Tdata2 or Csr.Tdata3: return true; // no triggers
            case Csr.Tinfo: value = 1; return true; // only type 0 ("none") supported
            default: return false;
        }
    }

    private bool WriteCsr(int csr, ulong value)
    {
        switch (csr)
        {
            case Csr.Fflags: _fflags = (uint)value & 31; MarkFloatDirty(); return true;
            case Csr.Frm: _frm = (uint)value & 7; MarkFloatDirty(); return true;
            case Csr.Fcsr: _fflags = (uint)value & 31; _frm = (uint)(value >> 5) & 7; MarkFloatDirty(); return true;

            // Privileged spec 3.1.11: the write takes effect after the writing instruction completes, so the
            // run loop's increment for this instruction must not be added on top of the written value.
            case Csr.Minstret: _instret = value - 1; return true;
            case Csr.Mcycle: _cycleOffset = value - (_instret + 1); return true; // takes effect after this instruction retires
            case >= Csr.Mhpmcounter3 and <= Csr.Mhpmcounter31: return true;
            case >= Csr.Mhpmevent3 and <= Csr.Mhpmevent31: return true;
            case Csr.Mcountinhibit: return true;

            case Csr.Sstatus:
                WriteMstatus((_mstatus & ~MstatusBits.SstatusWritable) | (value & MstatusBits.SstatusWritable));
                return true;
            case Csr.Sie:
                _mie = (_mie & ~_mideleg) | (value & _mideleg & MieWritable);
                _breakQuantum = true;
                return true;
            case Csr.Stvec: _stvec = LegalTvec(value); return true;
            case Csr.Scounteren: _scounteren = value & 0xFFFF_FFFF; return true;
            case Csr.Senvcfg: _senvcfg = value & 1; return true;
            case Csr.Sscratch: _sscratch = value; return true;
            case Csr.Sepc: _sepc = value & ~1UL; return true;
            case Csr.Scause: _scause = value & (TrapCause.InterruptFlag | 63); return true;
            case Csr.Stval: _stval = value; return true;
            case Csr.Sip:
                if ((_mideleg & InterruptBits.SSIP) != 0)
                {
                    _mip = (_mip & ~InterruptBits.SSIP) | (value & InterruptBits.SSIP);
                    _breakQuantum = true;
                }

                return true;
            case Csr.Stimecmp: SetTimerCompare(value); return true;
            case Csr.Satp:
            {
                ulong mode = value >> 60;
                if (mode != 0 && mode != 8)
                {
                    return true; // Sv48/Sv57 and reserved modes: the write has no effect (WARL)
                }

                _satp = value & ((0xFUL << 60) | PpnMask); // ASIDLEN = 0
                FlushTlbAll(includeIdentity: false);
                UpdateMmuContext();
                return true;
            }

            case Csr.Mstatus: WriteMstatus(value); return true;
            case Csr.Misa: return true; // fixed
            case Csr.Medeleg: _medeleg = value & MedelegWritable; return true;
            case Csr.Mideleg: _mideleg = value & SupervisorInterrupts; _breakQuantum = true; return true;
            case Csr.Mie: _mie = value & MieWritable; _breakQuantum = true; return true;
            case Csr.Mtvec: _mtvec = LegalTvec(value); return true;
            case Csr.Mcounteren: _mcounteren = value & 0xFFFF_FFFF; return true;
            case Csr.Menvcfg:
                _menvcfg = value & (MenvcfgStce | 1);
                UpdateTimer(_clock.Now);
                return true;
            case Csr.Mscratch: _mscratch = value; return true;
            case Csr.Mepc: _mepc = value & ~1UL; return true;
            case Csr.Mcause: _mcause = value & (TrapCause.InterruptFlag | 63); return true;
            case Csr.Mtval: _mtval = value; return true;
            case Csr.Mip:
            {
                ulong writable = InterruptBits.SSIP | InterruptBits.SEIP | (SstcActive ? 0 : InterruptBits.STIP);
                _seipSoftware = (value & InterruptBits.SEIP) != 0;
                ulong bits = (_mip & ~writable) | (value & writable & ~InterruptBits.SEIP);
                _mip = _seipSoftware || _seipHardware ? bits | InterruptBits.SEIP : bits;
                _breakQuantum = true;
                return true;
            }

            case >= Csr.Pmpcfg0 and <= Csr.Pmpcfg15: return true;
            case >= Csr.Pmpaddr0 and <= Csr.Pmpaddr63: return true;
            case Csr.Mseccfg: return true;
            case Csr.Tselect or Csr.Tdata1 or Csr.Tdata2 or Csr.Tdata3 or Csr.Tinfo: return true;
            default: return false;
        }
    }

    private void WriteMstatus(ulong value)
    {
        ulong m = (_mstatus & ~MstatusBits.WritableMask) | (value & MstatusBits.WritableMask);
        if (((m >> MstatusBits.MppShift) & 3) == 2)
        {
            m &= ~MstatusBits.MPP; // MPP is WARL: H-mode does not exist, read back U
        }

        m = (m & MstatusBits.FS) == MstatusBits.FS ? m | MstatusBits.SD : m & ~MstatusBits.SD; // XS is always Off

        if (((m ^ _mstatus) & MstatusBits.MXR) != 0)
        {
            FlushTlbAll(includeIdentity: false);
        }

        _mstatus = m;
        UpdateMmuContext();
        _breakQuantum = true;
    }

    private static ulong LegalTvec(ulong value) => (value & 3) >= 2 ? value & ~3UL : value;
}
