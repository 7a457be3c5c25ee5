namespace Backup.Hypervisor.DeviceTree;

/// <summary>The machine's Goldfish real-time clock, as described to the guest (node /soc/rtc@&lt;base&gt;).</summary>
public sealed record RtcDescription
{
    /// <summary>Guest-physical base of the register window (default 0x101000, as QEMU virt).</summary>
    public ulong Base { get; init; } = 0x10_1000;

    /// <summary>Size of the register window (default 0x1000).</summary>
    public ulong Size { get; init; } = 0x1000;

    /// <summary>PLIC interrupt source number (default 11, as QEMU virt).</summary>
    public uint Irq { get; init; } = 11;

    /// <summary>Compatible string (default "google,goldfish-rtc").</summary>
    public string Compatible { get; init; } = "google,goldfish-rtc";

    /// <summary>The register window.</summary>
    public MmioWindow Window => new(Base, Size);

    /// <summary>Device tree node name, e.g. "rtc@101000".</summary>
    public string NodeName => $"rtc@{Base:x}";
}
