namespace Backup.Hypervisor.DeviceTree;

/// <summary>
/// Everything the guest needs to know about the virtual machine the hypervisor builds: harts, RAM, boot arguments,
/// and the addresses/interrupts of the platform devices. <see cref="MachineDeviceTree.Build"/> turns it into a DTB.
/// Defaults follow the QEMU "virt" layout (CLINT 0x2000000, PLIC 0xc000000, UART 0x10000000 irq 10, virtio-mmio
/// slots from 0x10001000 with irqs 1.., test/syscon 0x100000, RAM at 0x80000000).
/// </summary>
public sealed record MachineDescription
{
    /// <summary>Largest supported hart count.</summary>
    public const int MaxHarts = 4;

    /// <summary>Default guest-physical RAM base.</summary>
    public const ulong DefaultRamBase = 0x8000_0000;

    /// <summary>Default timebase (mtime/time CSR) frequency in Hz.</summary>
    public const uint DefaultTimebaseFrequency = 10_000_000;

    /// <summary>Default riscv,isa string.</summary>
    public const string DefaultIsa = "rv64imafdc_zicsr_zifencei";

    /// <summary>Page size RAM must be aligned to.</summary>
    public const ulong PageSize = 4096;

    /// <summary>Number of harts (1..<see cref="MaxHarts"/>); hart ids are 0..HartCount-1.</summary>
    public int HartCount { get; init; } = 1;

    /// <summary>riscv,isa for every hart not overridden by <see cref="PerHartIsa"/>.</summary>
    public string Isa { get; init; } = DefaultIsa;

    /// <summary>Optional per-hart riscv,isa strings; when set, must have exactly <see cref="HartCount"/> entries.</summary>
    public IReadOnlyList<string>? PerHartIsa { get; init; }

    /// <summary>mmu-type of every hart (default "riscv,sv39").</summary>
    public string MmuType { get; init; } = "riscv,sv39";

    /// <summary>/cpus timebase-frequency in Hz (Linux panics without it).</summary>
    public uint TimebaseFrequency { get; init; } = DefaultTimebaseFrequency;

    /// <summary>Guest-physical RAM base (4 KiB aligned).</summary>
    public ulong RamBase { get; init; } = DefaultRamBase;

    /// <summary>RAM size in bytes (a positive multiple of 4 KiB).</summary>
    public required ulong RamSize { get; init; }

    /// <summary>Kernel command line (/chosen bootargs); empty writes an empty string.</summary>
    public string BootArgs { get; init; } = string.Empty;

    /// <summary>Guest-physical start of the initial ramdisk (/chosen linux,initrd-start), or null for none.</summary>
    public ulong? InitrdStart { get; init; }

    /// <summary>Guest-physical end (exclusive) of the initial ramdisk (/chosen linux,initrd-end), or null for none.</summary>
    public ulong? InitrdEnd { get; init; }

    /// <summary>
    /// /chosen stdout-path. Null means "the UART node" when there is a UART (e.g. "/soc/serial@10000000") and
    /// nothing otherwise; an empty string omits the property.
    /// </summary>
    public string? StdoutPath { get; init; }

    /// <summary>The UART, or null for none (console via SBI).</summary>
    public UartDescription? Uart { get; init; } = new();

    /// <summary>
    /// A second 16550 for the guest-agent channel (Linux's ttyS1), or null for none. The machine maps it at
    /// 0x10000100, irq 12, when enabled.
    /// </summary>
    public UartDescription? AgentUart { get; init; }

    /// <summary>The Goldfish real-time clock, or null for none. The machine maps it at 0x101000, irq 11 (as QEMU virt).</summary>
    public RtcDescription? Rtc { get; init; }

    /// <summary>The PLIC (always present: it is the interrupt parent of all devices).</summary>
    public PlicDescription Plic { get; init; } = new();

    /// <summary>The CLINT, or null to omit it.</summary>
    public ClintDescription? Clint { get; init; } = new();

    /// <summary>virtio-mmio transports, in the order they are written.</summary>
    public IReadOnlyList<VirtioMmioSlot> VirtioSlots { get; init; } = [];

    /// <summary>The syscon test device with power-off/reboot nodes, or null to omit them.</summary>
    public SysconTestDescription? TestDevice { get; init; } = new();

    /// <summary>Root model string.</summary>
    public string Model { get; init; } = "Backup hypervisor RISC-V virtual machine";

    /// <summary>Root compatible strings (default "riscv-virtio").</summary>
    public IReadOnlyList<string> Compatible { get; init; } = ["riscv-virtio"];

    /// <summary>Whether to add /cpus/cpu-map (one cluster, one core per hart).</summary>
    public bool IncludeCpuMap { get; init; }

    /// <summary>Hart that boots first (header boot_cpuid_phys).</summary>
    public uint BootHartId { get; init; }

    /// <summary>The RAM window.</summary>
    public MmioWindow RamWindow => new(RamBase, RamSize);

    /// <summary>Device tree path of the UART node, or null without a UART.</summary>
    public string? UartPath => Uart is null ? null : "/soc/" + Uart.NodeName;

    /// <summary>The stdout-path actually written, or null when none is written.</summary>
    public string? EffectiveStdoutPath => StdoutPath switch
    {
        null => UartPath,
        "" => null,
        _ => StdoutPath,
    };

    /// <summary>
    /// The default machine: <paramref name="harts"/> harts of <see cref="DefaultIsa"/>, RAM at 0x80000000, UART,
    /// PLIC, CLINT, test/syscon device and the first <paramref name="virtioSlots"/> standard virtio-mmio slots.
    /// </summary>
    public static MachineDescription Default(int harts, ulong ramSize, string bootArgs, int virtioSlots = 0)
    {
        ArgumentNullException.ThrowIfNull(bootArgs);
        ArgumentOutOfRangeException.ThrowIfNegative(virtioSlots);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(virtioSlots, VirtioMmioSlot.StandardSlotCount);
        var slots = new VirtioMmioSlot[virtioSlots];
        for (var i = 0; i < slots.Length; i++)
        {
            slots[i] = VirtioMmioSlot.Standard(i);
        }

        var description = new MachineDescription
        {
            HartCount = harts,
            RamSize = ramSize,
            BootArgs = bootArgs,
            VirtioSlots = slots,
        };
        description.Validate();
        return description;
    }

    /// <summary>riscv,isa of hart <paramref name="hart"/>.</summary>
    public string IsaForHart(int hart)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(hart);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(hart, HartCount);
        return PerHartIsa is null ? Isa : PerHartIsa[hart];
    }

    /// <summary>
    /// Checks the description is buildable: hart count, ISA and MMU strings, RAM alignment, initrd inside RAM,
    /// interrupt numbers within the PLIC's sources and unique, device windows well-formed and not overlapping each
    /// other or RAM. Throws <see cref="ArgumentException"/> describing the first problem found.
    /// </summary>
    public void Validate()
    {
        const string param = "description";
        if (HartCount is < 1 or > MaxHarts)
        {
            throw new ArgumentOutOfRangeException(param, HartCount, $"HartCount must be 1..{MaxHarts}");
        }

        if (BootHartId >= (uint)HartCount)
        {
            throw new ArgumentException($"BootHartId {BootHartId} is not a hart of this machine (HartCount {HartCount})", param);
        }

        if (PerHartIsa is not null && PerHartIsa.Count != HartCount)
        {
            throw new ArgumentException($"PerHartIsa has {PerHartIsa.Count} entries but HartCount is {HartCount}", param);
        }

        for (var hart = 0; hart < HartCount; hart++)
        {
            var isa = IsaForHart(hart);
            if (string.IsNullOrEmpty(isa) || !isa.StartsWith("rv64", StringComparison.OrdinalIgnoreCase))
            {
                throw new ArgumentException($"riscv,isa of hart {hart} must start with \"rv64\" (got '{isa}')", param);
            }
        }

        if (string.IsNullOrEmpty(MmuType) || !MmuType.StartsWith("riscv,", StringComparison.Ordinal))
        {
            throw new ArgumentException($"MmuType must look like \"riscv,sv39\" (got '{MmuType}')", param);
        }

        if (TimebaseFrequency == 0)
        {
            throw new ArgumentException("TimebaseFrequency must be non-zero (Linux panics without a timebase)", param);
        }

        if (RamSize == 0 || RamSize % PageSize != 0)
        {
            throw new ArgumentException($"RamSize 0x{RamSize:x} must be a positive multiple of 4 KiB", param);
        }

        if (RamBase % PageSize != 0)
        {
            throw new ArgumentException($"RamBase 0x{RamBase:x} must be 4 KiB aligned", param);
        }

        if (RamWindow.IsInvalid)
        {
            throw new ArgumentException($"RAM {RamWindow} wraps around the 64-bit address space", param);
        }

        ValidateInitrd(param);

        if (Model is null || Compatible is null || Compatible.Count == 0)
        {
            throw new ArgumentException("Model and at least one root Compatible string are required", param);
        }

        if (Plic is null)
        {
            throw new ArgumentException("Plic is required (it is the interrupt parent of all devices)", param);
        }

        if (Plic.SourceCount is < 1 or > 1023)
        {
            throw new ArgumentException($"Plic.SourceCount (riscv,ndev) must be 1..1023 (got {Plic.SourceCount})", param);
        }

        var contexts = 2UL * (ulong)HartCount;
        var plicNeeded = PlicDescription.ContextBaseOffset + (contexts * PlicDescription.ContextStride);
        if (Plic.Size < plicNeeded)
        {
            throw new ArgumentException($"Plic.Size 0x{Plic.Size:x} is too small for {contexts} contexts (needs at least 0x{plicNeeded:x})", param);
        }

        ValidateWindowsAndIrqs(param);
    }

    private void ValidateInitrd(string param)
    {
        if (InitrdStart.HasValue != InitrdEnd.HasValue)
        {
            throw new ArgumentException("InitrdStart and InitrdEnd must be both set or both null", param);
        }

        if (InitrdStart is { } start && InitrdEnd is { } end)
        {
            if (end < start)
            {
                throw new ArgumentException($"InitrdEnd 0x{end:x} is below InitrdStart 0x{start:x}", param);
            }

            if (start < RamBase || end - RamBase > RamSize)
            {
                throw new ArgumentException($"initrd [0x{start:x}, 0x{end:x}) is not inside RAM {RamWindow}", param);
            }
        }
    }

    private void ValidateWindowsAndIrqs(string param)
    {
        var windows = new List<(string Name, MmioWindow Window)> { ("RAM", RamWindow), ("PLIC", Plic.Window) };
        var irqs = new Dictionary<uint, string>();

        void AddIrq(string name, uint irq)
        {
            if (irq == 0 || irq > Plic.SourceCount)
            {
                throw new ArgumentException($"{name} irq {irq} is not a PLIC source (valid: 1..{Plic.SourceCount})", param);
            }

            if (!irqs.TryAdd(irq, name))
            {
                throw new ArgumentException($"{name} irq {irq} is already used by {irqs[irq]}", param);
            }
        }

        if (Uart is not null)
        {
            if (Uart.ClockFrequency == 0 || string.IsNullOrEmpty(Uart.Compatible))
            {
                throw new ArgumentException("Uart needs a non-zero ClockFrequency and a Compatible string", param);
            }

            windows.Add(("UART", Uart.Window));
            AddIrq("UART", Uart.Irq);
        }

        if (AgentUart is not null)
        {
            if (AgentUart.ClockFrequency == 0 || string.IsNullOrEmpty(AgentUart.Compatible))
            {
                throw new ArgumentException("AgentUart needs a non-zero ClockFrequency and a Compatible string", param);
            }

            windows.Add(("agent UART", AgentUart.Window));
            AddIrq("agent UART", AgentUart.Irq);
        }

        if (Clint is not null)
        {
            windows.Add(("CLINT", Clint.Window));
        }

        if (Rtc is not null)
        {
            if (string.IsNullOrEmpty(Rtc.Compatible))
            {
                throw new ArgumentException("Rtc needs a Compatible string", param);
            }

            windows.Add(("RTC", Rtc.Window));
            AddIrq("RTC", Rtc.Irq);
        }

        if (TestDevice is not null)
        {
            windows.Add(("test/syscon device", TestDevice.Window));
        }

        if (VirtioSlots is null)
        {
            throw new ArgumentException("VirtioSlots must not be null (use an empty list)", param);
        }

        for (var i = 0; i < VirtioSlots.Count; i++)
        {
            var slot = VirtioSlots[i] ?? throw new ArgumentException($"VirtioSlots[{i}] is null", param);
            windows.Add(($"virtio-mmio slot {i}", slot.Window));
            AddIrq($"virtio-mmio slot {i}", slot.Irq);
        }

        foreach (var (name, window) in windows)
        {
            if (window.IsInvalid)
            {
                throw new ArgumentException($"{name} window {window} is empty or wraps around the 64-bit address space", param);
            }
        }

        for (var i = 0; i < windows.Count; i++)
        {
            for (var j = i + 1; j < windows.Count; j++)
            {
                if (windows[i].Window.Overlaps(windows[j].Window))
                {
                    throw new ArgumentException(
                        $"{windows[i].Name} window {windows[i].Window} overlaps {windows[j].Name} window {windows[j].Window}", param);
                }
            }
        }
    }
}
