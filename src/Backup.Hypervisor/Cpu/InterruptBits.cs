namespace Backup.Hypervisor.Cpu;

/// <summary>Bit masks of mip/mie (privileged spec, machine interrupt registers).</summary>
public static class InterruptBits
{
    public const ulong SSIP = 1UL << 1;
    public const ulong MSIP = 1UL << 3;
    public const ulong STIP = 1UL << 5;
    public const ulong MTIP = 1UL << 7;
    public const ulong SEIP = 1UL << 9;
    public const ulong MEIP = 1UL << 11;
}
