namespace Backup.Hypervisor.DeviceTree;

/// <summary>
/// The platform-level interrupt controller (node /soc/plic@&lt;base&gt;). Context 2h is hart h's M-mode external
/// interrupt and context 2h+1 its S-mode external interrupt, as listed in interrupts-extended.
/// </summary>
public sealed record PlicDescription
{
    /// <summary>Offset of the first context's threshold/claim registers in the standard PLIC layout.</summary>
    public const ulong ContextBaseOffset = 0x20_0000;

    /// <summary>Stride between contexts in the threshold/claim area.</summary>
    public const ulong ContextStride = 0x1000;

    /// <summary>Guest-physical base (default 0x0c000000).</summary>
    public ulong Base { get; init; } = 0x0c00_0000;

    /// <summary>Size of the register window (default 0x600000).</summary>
    public ulong Size { get; init; } = 0x60_0000;

    /// <summary>Number of interrupt sources, riscv,ndev (sources are 1..ndev; default 31).</summary>
    public uint SourceCount { get; init; } = 31;

    /// <summary>Compatible strings (default "sifive,plic-1.0.0", "riscv,plic0").</summary>
    public IReadOnlyList<string> Compatible { get; init; } = ["sifive,plic-1.0.0", "riscv,plic0"];

    /// <summary>The register window.</summary>
    public MmioWindow Window => new(Base, Size);

    /// <summary>Device tree node name, e.g. "plic@c000000".</summary>
    public string NodeName => $"plic@{Base:x}";
}
