namespace Backup.Hypervisor.DeviceTree;

/// <summary>
/// The SiFive test device used as a syscon for power-off and reboot (node /soc/test@&lt;base&gt;), plus the
/// /poweroff (syscon-poweroff) and /reboot (syscon-reboot) nodes that write <see cref="PowerOffValue"/> or
/// <see cref="RebootValue"/> to register <see cref="RegisterOffset"/> of it.
/// </summary>
public sealed record SysconTestDescription
{
    /// <summary>Guest-physical base (default 0x100000).</summary>
    public ulong Base { get; init; } = 0x10_0000;

    /// <summary>Size of the register window (default 0x1000).</summary>
    public ulong Size { get; init; } = 0x1000;

    /// <summary>Compatible strings (default "sifive,test1", "sifive,test0", "syscon").</summary>
    public IReadOnlyList<string> Compatible { get; init; } = ["sifive,test1", "sifive,test0", "syscon"];

    /// <summary>Offset of the control register the power-off/reboot nodes write (default 0).</summary>
    public uint RegisterOffset { get; init; }

    /// <summary>Value written to power off (default 0x5555, "FINISHER_PASS").</summary>
    public uint PowerOffValue { get; init; } = 0x5555;

    /// <summary>Value written to reboot (default 0x7777, "FINISHER_RESET").</summary>
    public uint RebootValue { get; init; } = 0x7777;

    /// <summary>The register window.</summary>
    public MmioWindow Window => new(Base, Size);

    /// <summary>Device tree node name, e.g. "test@100000".</summary>
    public string NodeName => $"test@{Base:x}";
}
