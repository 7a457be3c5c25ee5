namespace Backup.Hypervisor.Cpu;

/// <summary>SYSTEM instructions other than CSR accesses: ECALL, EBREAK, MRET, SRET, WFI, SFENCE.VMA.</summary>
public sealed unsafe partial class Hart
{
    private StepResult ExecuteSystem(uint inst, ulong pc, ref ulong next)
    {
        uint f3 = (inst >> 12) & 7;
        if (f3 != 0)
        {
            return f3 == 4 ? StepResult.Illegal : ExecuteCsr(inst) ? StepResult.Next : StepResult.Illegal;
        }

        switch (inst)
        {
            case 0x00000073: // ECALL
                if (_mode == PrivilegeMode.Supervisor && Firmware is not null)
                {
                    _pc = pc;
                    Firmware.HandleSupervisorCall(this);
                    _breakQuantum = true;
                    return StepResult.Next;
                }

                _trapValue = 0;
                _trapCause = _mode switch
                {
                    PrivilegeMode.User => TrapCause.EnvironmentCallFromU,
                    PrivilegeMode.Supervisor => TrapCause.EnvironmentCallFromS,
                    _ => TrapCause.EnvironmentCallFromM,
                };
                return StepResult.Trap;
            case 0x00100073: // EBREAK
                _trapCause = TrapCause.Breakpoint;
                _trapValue = pc;
                return StepResult.Trap;
            case 0x30200073: // MRET
                if (_mode != PrivilegeMode.Machine)
                {
                    return StepResult.Illegal;
                }

                next = ExecuteMret();
                return StepResult.Jump;
            case 0x10200073: // SRET
                if (_mode == PrivilegeMode.User || (_mode == PrivilegeMode.Supervisor && (_mstatus & MstatusBits.TSR) != 0))
                {
                    return StepResult.Illegal;
                }

                next = ExecuteSret();
                return StepResult.Jump;
            case 0x10500073: // WFI
                if (_mode == PrivilegeMode.User || (_mode == PrivilegeMode.Supervisor && (_mstatus & MstatusBits.TW) != 0))
                {
                    return StepResult.Illegal;
                }

                if ((_mip & _mie) == 0)
                {
                    State = HartState.WaitingForInterrupt;
                }

                _breakQuantum = true;
                return StepResult.Next;
        }

        if ((inst >> 25) == 0x09 && ((inst >> 7) & 31) == 0) // SFENCE.VMA
        {
            if (_mode == PrivilegeMode.User || (_mode == PrivilegeMode.Supervisor && (_mstatus & MstatusBits.TVM) != 0))
            {
                return StepResult.Illegal;
            }

            uint rs1 = (inst >> 15) & 31;
            if (rs1 == 0)
            {
                FlushTlbAll(includeIdentity: false);
            }
            else
            {
                FlushTlbPage(_x[rs1]);
            }

            return StepResult.Next;
        }

        return StepResult.Illegal;
    }
}
