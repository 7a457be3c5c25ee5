namespace Backup.Hypervisor.Cpu;

/// <summary>Fields of mstatus/sstatus (RV64).</summary>
internal static class MstatusBits
{
    public const ulong SIE = 1UL << 1;
    public const ulong MIE = 1UL << 3;
    public const ulong SPIE = 1UL << 5;
    public const ulong MPIE = 1UL << 7;
    public const ulong SPP = 1UL << 8;
    public const int MppShift = 11;
    public const ulong MPP = 3UL << MppShift;
    public const ulong FS = 3UL << 13;
    public const ulong MPRV = 1UL << 17;
    public const ulong SUM = 1UL << 18;
    public const ulong MXR = 1UL << 19;
    public const ulong TVM = 1UL << 20;
    public const ulong TW = 1UL << 21;
    public const ulong TSR = 1UL << 22;
    public const ulong UXL = 2UL << 32;
    public const ulong SXL = 2UL << 34;
    public const ulong SD = 1UL << 63;

    /// <summary>Bits M-mode may write.</summary>
    public const ulong WritableMask = SIE | MIE | SPIE | MPIE | SPP | MPP | FS | MPRV | SUM | MXR | TVM | TW | TSR;

    /// <summary>Bits visible through sstatus.</summary>
    public const ulong SstatusMask = SIE | SPIE | SPP | FS | SUM | MXR | (3UL << 32) | SD;

    /// <summary>Bits S-mode may write through sstatus.</summary>
    public const ulong SstatusWritable = SIE | SPIE | SPP | FS | SUM | MXR;
}
