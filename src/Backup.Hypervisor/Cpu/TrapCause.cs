namespace Backup.Hypervisor.Cpu;

/// <summary>Exception codes of mcause/scause (privileged spec table 3.6), without the interrupt bit.</summary>
public static class TrapCause
{
    public const ulong InstructionAddressMisaligned = 0;
    public const ulong InstructionAccessFault = 1;
    public const ulong IllegalInstruction = 2;
    public const ulong Breakpoint = 3;
    public const ulong LoadAddressMisaligned = 4;
    public const ulong LoadAccessFault = 5;
    public const ulong StoreAddressMisaligned = 6;
    public const ulong StoreAccessFault = 7;
    public const ulong EnvironmentCallFromU = 8;
    public const ulong EnvironmentCallFromS = 9;
    public const ulong EnvironmentCallFromM = 11;
    public const ulong InstructionPageFault = 12;
    public const ulong LoadPageFault = 13;
    public const ulong StorePageFault = 15;

    public const ulong SupervisorSoftwareInterrupt = 1;
    public const ulong MachineSoftwareInterrupt = 3;
    public const ulong SupervisorTimerInterrupt = 5;
    public const ulong MachineTimerInterrupt = 7;
    public const ulong SupervisorExternalInterrupt = 9;
    public const ulong MachineExternalInterrupt = 11;

    /// <summary>The interrupt bit of mcause on RV64.</summary>
    public const ulong InterruptFlag = 1UL << 63;
}
