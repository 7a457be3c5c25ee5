namespace Backup.Hypervisor.DeviceTree;

/// <summary>One virtio-mmio transport window (node /soc/virtio_mmio@&lt;base&gt;, compatible "virtio,mmio").</summary>
public sealed record VirtioMmioSlot
{
    /// <summary>Base of the standard slot 0; slot i is at this + i * <see cref="StandardStride"/>.</summary>
    public const ulong StandardBase = 0x1000_1000;

    /// <summary>Distance between standard slots.</summary>
    public const ulong StandardStride = 0x1000;

    /// <summary>Number of standard slots (irqs 1..8, below the UART's irq 10).</summary>
    public const int StandardSlotCount = 8;

    /// <summary>Creates a slot.</summary>
    /// <param name="baseAddress">Guest-physical base of the register window.</param>
    /// <param name="irq">PLIC interrupt source number.</param>
    /// <param name="size">Size of the register window (default 0x1000).</param>
    public VirtioMmioSlot(ulong baseAddress, uint irq, ulong size = 0x1000)
    {
        Base = baseAddress;
        Irq = irq;
        Size = size;
    }

    /// <summary>Guest-physical base of the register window.</summary>
    public ulong Base { get; init; }

    /// <summary>Size of the register window.</summary>
    public ulong Size { get; init; }

    /// <summary>PLIC interrupt source number.</summary>
    public uint Irq { get; init; }

    /// <summary>The register window.</summary>
    public MmioWindow Window => new(Base, Size);

    /// <summary>Device tree node name, e.g. "virtio_mmio@10001000".</summary>
    public string NodeName => $"virtio_mmio@{Base:x}";

    /// <summary>Standard slot <paramref name="index"/> (0..7): base 0x10001000 + 0x1000 * index, irq 1 + index.</summary>
    public static VirtioMmioSlot Standard(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, StandardSlotCount);
        return new VirtioMmioSlot(StandardBase + ((ulong)index * StandardStride), (uint)index + 1);
    }
}
