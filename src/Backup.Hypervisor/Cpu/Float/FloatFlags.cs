namespace Backup.Hypervisor.Cpu.Float;

/// <summary>The accrued exception flags of fcsr.fflags (RISC-V unprivileged spec, "F" chapter).</summary>
internal static class FloatFlags
{
    public const uint Inexact = 1;          // NX
    public const uint Underflow = 2;        // UF
    public const uint Overflow = 4;         // OF
    public const uint DivideByZero = 8;     // DZ
    public const uint Invalid = 16;         // NV
    public const uint All = 31;
}
