using Backup.Hypervisor.Snapshots;

namespace Backup.Hypervisor.Cpu;

public sealed unsafe partial class Hart : IDeviceState
{
    /// <inheritdoc />
    public string StateName => $"hart{HartId}";

    /// <inheritdoc />
    /// <remarks>Version 2 added the F/D state (32 FP registers, fflags, frm); a version 1 section restores them as zero.</remarks>
    public int StateVersion => 2;

    /// <inheritdoc />
    public void SaveState(StateWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteU64Array(new ReadOnlySpan<ulong>(_x, 32));
        writer.WriteU64(_pc);
        writer.WriteU8((byte)_mode);
        writer.WriteU8((byte)State);
        writer.WriteU64(_instret);
        writer.WriteU64(_cycleOffset);
        ReadOnlySpan<ulong> csrs =
        [
            _mstatus, _medeleg, _mideleg, _mie, _mip, _mtvec, _mscratch, _mepc, _mcause, _mtval,
            _stvec, _sscratch, _sepc, _scause, _stval, _mcounteren, _scounteren, _menvcfg, _senvcfg, _satp, _stimecmp,
        ];
        writer.WriteU64Array(csrs);
        writer.WriteBool(_seipSoftware);
        writer.WriteBool(_seipHardware);
        writer.WriteU64(_reservation);
        writer.WriteU64(_instretAtLastTrap);
        writer.WriteI32(_trapsWithoutProgress);
        writer.WriteU64Array(new ReadOnlySpan<ulong>(_f, 32));
        writer.WriteU32(FloatControl);
    }

    /// <inheritdoc />
    public void RestoreState(StateReader reader, int version)
    {
        ArgumentNullException.ThrowIfNull(reader);
        reader.RequireVersion(version, 1, 2);

        Span<ulong> x = stackalloc ulong[32];
        reader.ReadU64Array(x);
        ulong pc = reader.ReadU64();
        byte mode = reader.ReadU8();
        byte state = reader.ReadU8();
        if (mode is not (0 or 1 or 3) || state > (byte)HartState.Stopped || x[0] != 0)
        {
            throw reader.Fail($"invalid hart mode {mode}, state {state} or non-zero x0");
        }

        ulong instret = reader.ReadU64();
        ulong cycleOffset = reader.ReadU64();
        Span<ulong> csrs = stackalloc ulong[21];
        reader.ReadU64Array(csrs);
        bool seipSoftware = reader.ReadBool();
        bool seipHardware = reader.ReadBool();
        ulong reservation = reader.ReadU64();
        ulong instretAtLastTrap = reader.ReadU64();
        int trapsWithoutProgress = reader.ReadI32();
        Span<ulong> f = stackalloc ulong[32];
        uint fcsr = 0;
        if (version >= 2)
        {
            reader.ReadU64Array(f);
            fcsr = reader.ReadU32();
            if (fcsr > 0xFF)
            {
                throw reader.Fail($"invalid fcsr 0x{fcsr:x} (only bits 7:0 exist)");
            }
        }

        reader.ExpectEnd();

        x.CopyTo(new Span<ulong>(_x, 32));
        _pc = pc;
        _mode = (PrivilegeMode)mode;
        State = (HartState)state;
        _instret = instret;
        _cycleOffset = cycleOffset;
        (_mstatus, _medeleg, _mideleg, _mie, _mip, _mtvec, _mscratch, _mepc, _mcause, _mtval) =
            (csrs[0], csrs[1], csrs[2], csrs[3], csrs[4], csrs[5], csrs[6], csrs[7], csrs[8], csrs[9]);
        (_stvec, _sscratch, _sepc, _scause, _stval, _mcounteren, _scounteren, _menvcfg, _senvcfg, _satp, _stimecmp) =
            (csrs[10], csrs[11], csrs[12], csrs[13], csrs[14], csrs[15], csrs[16], csrs[17], csrs[18], csrs[19], csrs[20]);
        _seipSoftware = seipSoftware;
        _seipHardware = seipHardware;
        _reservation = reservation;
        _instretAtLastTrap = instretAtLastTrap;
        _trapsWithoutProgress = trapsWithoutProgress;
        f.CopyTo(new Span<ulong>(_f, 32));
        _fflags = fcsr & 31;
        _frm = fcsr >> 5;
        FatalError = null;
        FlushTlbAll(includeIdentity: true);
        UpdateMmuContext();
        _translation?.Clear();
    }
}
