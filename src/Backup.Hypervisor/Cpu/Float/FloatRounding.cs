namespace Backup.Hypervisor.Cpu.Float;

/// <summary>The rounding modes of the rm field and fcsr.frm (values 5 and 6 are reserved, 7 in rm means "dynamic").</summary>
internal static class FloatRounding
{
    public const int NearestEven = 0;       // RNE
    public const int TowardZero = 1;        // RTZ
    public const int Down = 2;              // RDN
    public const int Up = 3;                // RUP
    public const int NearestMaxMagnitude = 4; // RMM
    public const int Dynamic = 7;
}
