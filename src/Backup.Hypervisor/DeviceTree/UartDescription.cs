namespace Backup.Hypervisor.DeviceTree;

/// <summary>The machine's 16550-compatible UART, as described to the guest (node /soc/serial@&lt;base&gt;).</summary>
public sealed record UartDescription
{
    /// <summary>Guest-physical base of the register window (default 0x10000000).</summary>
    public ulong Base { get; init; } = 0x1000_0000;

    /// <summary>Size of the register window (default 0x100).</summary>
    public ulong Size { get; init; } = 0x100;

    /// <summary>PLIC interrupt source number (default 10).</summary>
    public uint Irq { get; init; } = 10;

    /// <summary>Input clock in Hz, used by the guest to compute divisors (default 3686400).</summary>
    public uint ClockFrequency { get; init; } = 3_686_400;

    /// <summary>Compatible string (default "ns16550a").</summary>
    public string Compatible { get; init; } = "ns16550a";

    /// <summary>The register window.</summary>
    public MmioWindow Window => new(Base, Size);

    /// <summary>Device tree node name, e.g. "serial@10000000".</summary>
    public string NodeName => $"serial@{Base:x}";
}
