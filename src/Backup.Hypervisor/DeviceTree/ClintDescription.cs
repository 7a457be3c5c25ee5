namespace Backup.Hypervisor.DeviceTree;

/// <summary>
/// The core-local interruptor (node /soc/clint@&lt;base&gt;): software and timer interrupts, listed per hart in
/// interrupts-extended as M-software (3) and M-timer (7).
/// </summary>
public sealed record ClintDescription
{
    /// <summary>Guest-physical base (default 0x02000000).</summary>
    public ulong Base { get; init; } = 0x0200_0000;

    /// <summary>Size of the register window (default 0x10000).</summary>
    public ulong Size { get; init; } = 0x1_0000;

    /// <summary>Compatible strings (default "sifive,clint0", "riscv,clint0").</summary>
    public IReadOnlyList<string> Compatible { get; init; } = ["sifive,clint0", "riscv,clint0"];

    /// <summary>The register window.</summary>
    public MmioWindow Window => new(Base, Size);

    /// <summary>Device tree node name, e.g. "clint@2000000".</summary>
    public string NodeName => $"clint@{Base:x}";
}
