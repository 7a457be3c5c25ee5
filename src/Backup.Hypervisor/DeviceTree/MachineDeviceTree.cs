namespace Backup.Hypervisor.DeviceTree;

/// <summary>
/// Builds the device tree blob a RISC-V Linux guest boots with from a <see cref="MachineDescription"/>:
/// root, /chosen, /memory, /cpus (with per-hart riscv,cpu-intc controllers), optional /poweroff and /reboot, and
/// /soc holding the test/syscon device, CLINT, PLIC, UART, RTC and virtio-mmio transports.
/// </summary>
public static class MachineDeviceTree
{
    /// <summary>Local interrupt number of the M-mode software interrupt (CLINT).</summary>
    public const uint MachineSoftwareInterrupt = 3;

    /// <summary>Local interrupt number of the M-mode timer interrupt (CLINT).</summary>
    public const uint MachineTimerInterrupt = 7;

    /// <summary>Local interrupt number of the S-mode external interrupt (PLIC context 2h+1).</summary>
    public const uint SupervisorExternalInterrupt = 9;

    /// <summary>Local interrupt number of the M-mode external interrupt (PLIC context 2h).</summary>
    public const uint MachineExternalInterrupt = 11;

    /// <summary>Validates <paramref name="description"/> and returns its DTB (format version 17).</summary>
    /// <exception cref="ArgumentException">The description is inconsistent (see <see cref="MachineDescription.Validate"/>).</exception>
    public static byte[] Build(MachineDescription description)
    {
        ArgumentNullException.ThrowIfNull(description);
        description.Validate();

        var harts = description.HartCount;
        var w = new FdtWriter { BootCpuIdPhys = description.BootHartId };

        var intcPhandles = new uint[harts];
        var cpuPhandles = new uint[harts];
        for (var hart = 0; hart < harts; hart++)
        {
            intcPhandles[hart] = w.AllocatePhandle();
        }

        if (description.IncludeCpuMap)
        {
            for (var hart = 0; hart < harts; hart++)
            {
                cpuPhandles[hart] = w.AllocatePhandle();
            }
        }

        var plicPhandle = w.AllocatePhandle();
        var testPhandle = description.TestDevice is null ? 0 : w.AllocatePhandle();

        w.BeginNode(string.Empty);
        w.PropertyU32("#address-cells", 2);
        w.PropertyU32("#size-cells", 2);
        w.PropertyStringList("compatible", [.. description.Compatible]);
        w.PropertyString("model", description.Model);

        WriteChosen(w, description);
        WriteMemory(w, description);
        WriteCpus(w, description, intcPhandles, cpuPhandles);
        if (description.TestDevice is { } test)
        {
            WriteSysconAction(w, "poweroff", "syscon-poweroff", testPhandle, test.RegisterOffset, test.PowerOffValue);
            WriteSysconAction(w, "reboot", "syscon-reboot", testPhandle, test.RegisterOffset, test.RebootValue);
        }

        WriteSoc(w, description, intcPhandles, plicPhandle, testPhandle);
        w.EndNode();
        return w.Finish();
    }

    private static void WriteChosen(FdtWriter w, MachineDescription d)
    {
        w.BeginNode("chosen");
        w.PropertyString("bootargs", d.BootArgs);
        if (d.EffectiveStdoutPath is { } stdout)
        {
            w.PropertyString("stdout-path", stdout);
        }

        if (d.InitrdStart is { } start && d.InitrdEnd is { } end)
        {
            w.PropertyU64("linux,initrd-start", start);
            w.PropertyU64("linux,initrd-end", end);
        }

        w.EndNode();

        // Pin serial line numbers: the console UART is ttyS0 and the agent channel ttyS1, whatever the probe order.
        if (d.Uart is not null || d.AgentUart is not null)
        {
            w.BeginNode("aliases");
            if (d.Uart is { } console)
            {
                w.PropertyString("serial0", "/soc/" + console.NodeName);
            }

            if (d.AgentUart is { } agent)
            {
                w.PropertyString("serial1", "/soc/" + agent.NodeName);
            }

            w.EndNode();
        }
    }

    private static void WriteMemory(FdtWriter w, MachineDescription d)
    {
        w.BeginNode($"memory@{d.RamBase:x}");
        w.PropertyString("device_type", "memory");
        WriteReg(w, d.RamBase, d.RamSize);
        w.EndNode();
    }

    /// <summary>
    /// The riscv,isa-extensions list of an ISA string such as "rv64imafdc_zicsr_sstc": each single-letter extension
    /// after "rv64", then each multi-letter one (binding: Documentation/devicetree/bindings/riscv/extensions.yaml).
    /// </summary>
    internal static string[] IsaExtensions(string isa)
    {
        string[] parts = isa.ToLowerInvariant().Split('_', StringSplitOptions.RemoveEmptyEntries);
        return [.. parts[0][4..].Select(letter => letter.ToString()), .. parts.Skip(1)];
    }

    private static void WriteCpus(FdtWriter w, MachineDescription d, uint[] intcPhandles, uint[] cpuPhandles)
    {
        w.BeginNode("cpus");
        w.PropertyU32("#address-cells", 1);
        w.PropertyU32("#size-cells", 0);
        w.PropertyU32("timebase-frequency", d.TimebaseFrequency);
        for (var hart = 0; hart < d.HartCount; hart++)
        {
            w.BeginNode($"cpu@{hart:x}");
            if (cpuPhandles[hart] != 0)
            {
                w.PropertyPhandle(cpuPhandles[hart]);
            }

            w.PropertyString("device_type", "cpu");
            w.PropertyU32("reg", (uint)hart);
            w.PropertyString("status", "okay");
            w.PropertyString("compatible", "riscv");
            string isa = d.IsaForHart(hart);
            w.PropertyString("riscv,isa", isa);
            w.PropertyString("riscv,isa-base", isa[..4].ToLowerInvariant() + "i");
            w.PropertyStringList("riscv,isa-extensions", IsaExtensions(isa));
            w.PropertyString("mmu-type", d.MmuType);

            // #address-cells = 0 is not needed by Linux; it keeps dtc's interrupt_provider check quiet.
            w.BeginNode("interrupt-controller");
            w.PropertyU32("#address-cells", 0);
            w.PropertyU32("#interrupt-cells", 1);
            w.PropertyEmpty("interrupt-controller");
            w.PropertyString("compatible", "riscv,cpu-intc");
            w.PropertyPhandle(intcPhandles[hart]);
            w.EndNode();

            w.EndNode();
        }

        if (d.IncludeCpuMap)
        {
            w.BeginNode("cpu-map");
            w.BeginNode("cluster0");
            for (var hart = 0; hart < d.HartCount; hart++)
            {
                w.BeginNode($"core{hart}");
                w.PropertyU32("cpu", cpuPhandles[hart]);
                w.EndNode();
            }

            w.EndNode();
            w.EndNode();
        }

        w.EndNode();
    }

    private static void WriteSysconAction(FdtWriter w, string name, string compatible, uint regmap, uint offset, uint value)
    {
        w.BeginNode(name);
        w.PropertyString("compatible", compatible);
        w.PropertyU32("regmap", regmap);
        w.PropertyU32("offset", offset);
        w.PropertyU32("value", value);
        w.EndNode();
    }

    private static void WriteSoc(FdtWriter w, MachineDescription d, uint[] intcPhandles, uint plicPhandle, uint testPhandle)
    {
        var harts = d.HartCount;
        w.BeginNode("soc");
        w.PropertyU32("#address-cells", 2);
        w.PropertyU32("#size-cells", 2);
        w.PropertyString("compatible", "simple-bus");
        w.PropertyEmpty("ranges");

        if (d.TestDevice is { } test)
        {
            w.BeginNode(test.NodeName);
            w.PropertyPhandle(testPhandle);
            w.PropertyStringList("compatible", [.. test.Compatible]);
            WriteReg(w, test.Base, test.Size);
            w.EndNode();
        }

        if (d.Clint is { } clint)
        {
            var cells = new uint[harts * 4];
            for (var hart = 0; hart < harts; hart++)
            {
                cells[(hart * 4) + 0] = intcPhandles[hart];
                cells[(hart * 4) + 1] = MachineSoftwareInterrupt;
                cells[(hart * 4) + 2] = intcPhandles[hart];
                cells[(hart * 4) + 3] = MachineTimerInterrupt;
            }

            w.BeginNode(clint.NodeName);
            w.PropertyStringList("compatible", [.. clint.Compatible]);
            WriteReg(w, clint.Base, clint.Size);
            w.PropertyCells("interrupts-extended", cells);
            w.EndNode();
        }

        var plic = d.Plic;
        var contexts = new uint[harts * 4];
        for (var hart = 0; hart < harts; hart++)
        {
            contexts[(hart * 4) + 0] = intcPhandles[hart];
            contexts[(hart * 4) + 1] = MachineExternalInterrupt;
            contexts[(hart * 4) + 2] = intcPhandles[hart];
            contexts[(hart * 4) + 3] = SupervisorExternalInterrupt;
        }

        w.BeginNode(plic.NodeName);
        w.PropertyPhandle(plicPhandle);
        w.PropertyU32("#address-cells", 0);
        w.PropertyU32("#interrupt-cells", 1);
        w.PropertyEmpty("interrupt-controller");
        w.PropertyStringList("compatible", [.. plic.Compatible]);
        WriteReg(w, plic.Base, plic.Size);
        w.PropertyU32("riscv,ndev", plic.SourceCount);
        w.PropertyCells("interrupts-extended", contexts);
        w.EndNode();

        foreach (var uart in new[] { d.Uart, d.AgentUart })
        {
            if (uart is not null)
            {
                w.BeginNode(uart.NodeName);
                w.PropertyString("compatible", uart.Compatible);
                WriteReg(w, uart.Base, uart.Size);
                w.PropertyU32("interrupt-parent", plicPhandle);
                w.PropertyU32("interrupts", uart.Irq);
                w.PropertyU32("clock-frequency", uart.ClockFrequency);
                w.EndNode();
            }
        }

        if (d.Rtc is { } rtc)
        {
            w.BeginNode(rtc.NodeName);
            w.PropertyString("compatible", rtc.Compatible);
            WriteReg(w, rtc.Base, rtc.Size);
            w.PropertyU32("interrupt-parent", plicPhandle);
            w.PropertyU32("interrupts", rtc.Irq);
            w.EndNode();
        }

        foreach (var slot in d.VirtioSlots)
        {
            w.BeginNode(slot.NodeName);
            w.PropertyString("compatible", "virtio,mmio");
            WriteReg(w, slot.Base, slot.Size);
            w.PropertyU32("interrupt-parent", plicPhandle);
            w.PropertyU32("interrupts", slot.Irq);
            w.EndNode();
        }

        w.EndNode();
    }

    private static void WriteReg(FdtWriter w, ulong address, ulong size) =>
        w.PropertyCells("reg", (uint)(address >> 32), (uint)address, (uint)(size >> 32), (uint)size);
}
