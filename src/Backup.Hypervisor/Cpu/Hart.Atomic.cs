using Backup.Hypervisor.Mmu;

namespace Backup.Hypervisor.Cpu;

/// <summary>The A extension: LR/SC and the AMOs, executed by the interpreter for both tiers.</summary>
public sealed unsafe partial class Hart
{
    private StepResult ExecuteAtomic(uint inst)
    {
        uint f3 = (inst >> 12) & 7;
        if (f3 != 2 && f3 != 3)
        {
            return StepResult.Illegal;
        }

        int size = f3 == 2 ? 4 : 8;
        uint funct5 = inst >> 27;
        if (funct5 is not (0x00 or 0x01 or 0x02 or 0x03 or 0x04 or 0x08 or 0x0C or 0x10 or 0x14 or 0x18 or 0x1C))
        {
            return StepResult.Illegal; // reserved encoding: decoded before any memory access or fault
        }

        int rd = (int)((inst >> 7) & 31);
        ulong va = _x[(inst >> 15) & 31];
        ulong src = _x[(inst >> 20) & 31];

        if (funct5 == 0x02) // LR
        {
            if (((inst >> 20) & 31) != 0)
            {
                return StepResult.Illegal;
            }

            if (!TranslateAtomic(va, size, isLoadReserved: true, out ulong pa) || !PhysicalRead(pa, size, va, AccessType.Read, out ulong loaded))
            {
                return StepResult.Trap;
            }

            _reservation = pa;
            _x[rd] = size == 4 ? (ulong)(long)(int)loaded : loaded;
            return StepResult.Next;
        }

        if (!TranslateAtomic(va, size, isLoadReserved: false, out ulong address))
        {
            return StepResult.Trap;
        }

        if (funct5 == 0x03) // SC
        {
            bool success = _reservation == address;
            _reservation = ulong.MaxValue;
            if (success && !PhysicalWrite(address, size, src, va))
            {
                return StepResult.Trap;
            }

            _x[rd] = success ? 0UL : 1UL;
            return StepResult.Next;
        }

        if (!PhysicalRead(address, size, va, AccessType.Write, out ulong old))
        {
            return StepResult.Trap;
        }

        if (size == 4)
        {
            old = (ulong)(long)(int)old;
            src = (ulong)(long)(int)src;
        }

        ulong result;
        switch (funct5)
        {
            case 0x01: result = src; break;
            case 0x00: result = old + src; break;
            case 0x04: result = old ^ src; break;
            case 0x0C: result = old & src; break;
            case 0x08: result = old | src; break;
            case 0x10: result = (long)old < (long)src ? old : src; break;
            case 0x14: result = (long)old > (long)src ? old : src; break;
            case 0x18: result = (size == 4 ? (uint)old < (uint)src : old < src) ? old : src; break;
            case 0x1C: result = (size == 4 ? (uint)old > (uint)src : old > src) ? old : src; break;
            default: return StepResult.Illegal;
        }

        if (!PhysicalWrite(address, size, result, va))
        {
            return StepResult.Trap;
        }

        if (_reservation == address)
        {
            _reservation = ulong.MaxValue;
        }

        _x[rd] = old;
        return StepResult.Next;
    }
}
