using System.Buffers.Binary;
using Backup.Hypervisor.DeviceTree;

namespace Backup.Hypervisor.Tests.DeviceTree;

public class MachineDeviceTreeTests
{
    private const string Isa = "rv64imafdc_zicsr_zifencei_sstc";

    private static MachineDescription Machine(int harts, int virtioSlots = 2) =>
        MachineDescription.Default(harts, 128UL << 20, "console=ttyS0 earlycon=sbi", virtioSlots) with { Isa = Isa };

    [DtcFact]
    public void One_hart_machine_decodes_as_described() => CheckMachine(Machine(1));

    [DtcFact]
    public void Four_hart_machine_decodes_as_described() => CheckMachine(Machine(4));

    [DtcFact]
    public void Dtc_reports_no_warnings_for_the_machine_tree()
    {
        var dts = DtsDocument.Decode(MachineDeviceTree.Build(Machine(4) with { IncludeCpuMap = true, InitrdStart = 0x8400_0000, InitrdEnd = 0x8410_0000 }));
        Assert.True(dts.Warnings.Length == 0, $"dtc warnings:\n{dts.Warnings}\n{dts.Text}");
    }

    [DtcFact]
    public void Every_hart_lists_its_extensions_in_both_bindings()
    {
        var dts = DtsDocument.Decode(MachineDeviceTree.Build(Machine(2)));
        for (var hart = 0; hart < 2; hart++)
        {
            var cpu = dts[$"/cpus/cpu@{hart}"];
            Assert.Equal(Isa, cpu.String("riscv,isa"));
            Assert.Equal("rv64i", cpu.String("riscv,isa-base"));
            Assert.Equal(["i", "m", "a", "f", "d", "c", "zicsr", "zifencei", "sstc"], cpu.Strings("riscv,isa-extensions"));
        }
    }

    [DtcFact]
    public void Chosen_carries_initrd_and_stdout_path()
    {
        var d = Machine(1) with { InitrdStart = 0x8600_0000, InitrdEnd = 0x8612_3400 };
        var chosen = DtsDocument.Decode(MachineDeviceTree.Build(d))["/chosen"];
        Assert.Equal(0x8600_0000UL, chosen.U64("linux,initrd-start"));
        Assert.Equal(0x8612_3400UL, chosen.U64("linux,initrd-end"));
        Assert.Equal("/soc/serial@10000000", chosen.String("stdout-path"));
        Assert.Equal("console=ttyS0 earlycon=sbi", chosen.String("bootargs"));
    }

    [DtcFact]
    public void Optional_parts_can_be_left_out()
    {
        var d = Machine(2, virtioSlots: 0) with { TestDevice = null, Clint = null, Uart = null };
        var dts = DtsDocument.Decode(MachineDeviceTree.Build(d));
        Assert.False(dts["/chosen"].Has("stdout-path"));
        Assert.False(dts["/chosen"].Has("linux,initrd-start"));
        Assert.False(dts.Contains("/poweroff"));
        Assert.False(dts.Contains("/reboot"));
        Assert.Equal(["plic@c000000"], dts["/soc"].ChildNames);
        Assert.False(dts.Contains("/cpus/cpu-map"));
    }

    [DtcFact]
    public void Cpu_map_references_each_cpu_node()
    {
        var dts = DtsDocument.Decode(MachineDeviceTree.Build(Machine(3) with { IncludeCpuMap = true }));
        Assert.Equal(["core0", "core1", "core2"], dts["/cpus/cpu-map/cluster0"].ChildNames);
        for (var hart = 0; hart < 3; hart++)
        {
            Assert.Equal(dts[$"/cpus/cpu@{hart}"].U32("phandle"), dts[$"/cpus/cpu-map/cluster0/core{hart}"].U32("cpu"));
        }
    }

    [DtcFact]
    public void Large_ram_and_custom_addresses_use_both_cells()
    {
        var d = new MachineDescription
        {
            HartCount = 1,
            RamBase = 0x1_0000_0000,
            RamSize = 6UL << 30,
            PerHartIsa = ["rv64imafdc_zicsr_zifencei"],
            MmuType = "riscv,sv48",
            TimebaseFrequency = 1_000_000,
            StdoutPath = "/soc/serial@10000000:115200",
            VirtioSlots = [new VirtioMmioSlot(0x4000_0000, 20, 0x200)],
            Plic = new PlicDescription { SourceCount = 63 },
            BootHartId = 0,
        };
        var blob = MachineDeviceTree.Build(d);
        var dts = DtsDocument.Decode(blob);
        Assert.Equal([1u, 0u, 1u, 0x8000_0000u], dts["/memory@100000000"].Cells("reg"));
        Assert.Equal("rv64imafdc_zicsr_zifencei", dts["/cpus/cpu@0"].String("riscv,isa"));
        Assert.Equal("riscv,sv48", dts["/cpus/cpu@0"].String("mmu-type"));
        Assert.Equal(1_000_000u, dts["/cpus"].U32("timebase-frequency"));
        Assert.Equal("/soc/serial@10000000:115200", dts["/chosen"].String("stdout-path"));
        Assert.Equal([0u, 0x4000_0000u, 0u, 0x200u], dts["/soc/virtio_mmio@40000000"].Cells("reg"));
        Assert.Equal(20u, dts["/soc/virtio_mmio@40000000"].U32("interrupts"));
        Assert.Equal(63u, dts["/soc/plic@c000000"].U32("riscv,ndev"));
    }

    [Fact]
    public void Boot_hart_goes_into_the_header()
    {
        var blob = MachineDeviceTree.Build(Machine(4) with { BootHartId = 2 });
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32BigEndian(blob.AsSpan(28)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(-1)]
    public void Hart_count_outside_1_to_4_is_rejected(int harts)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => MachineDescription.Default(harts, 1UL << 20, ""));
        Assert.Contains("HartCount", ex.Message);
    }

    [Theory]
    [InlineData(0UL)]
    [InlineData(4097UL)]
    [InlineData((64UL << 20) + 512)]
    public void Ram_size_must_be_a_positive_multiple_of_4_KiB(ulong size)
    {
        var ex = Assert.Throws<ArgumentException>(() => MachineDeviceTree.Build(Machine(1) with { RamSize = size }));
        Assert.Contains("multiple of 4 KiB", ex.Message);
    }

    [Fact]
    public void Overlapping_device_windows_are_rejected()
    {
        var clash = Machine(1) with { VirtioSlots = [new VirtioMmioSlot(0x1000_0080, 1)] };
        var ex = Assert.Throws<ArgumentException>(() => MachineDeviceTree.Build(clash));
        Assert.Contains("UART window [0x10000000, +0x100) overlaps virtio-mmio slot 0 window [0x10000080, +0x1000)", ex.Message);

        var inRam = Machine(1) with { Clint = new ClintDescription { Base = 0x8100_0000 } };
        Assert.Contains("RAM window", Assert.Throws<ArgumentException>(() => MachineDeviceTree.Build(inRam)).Message);

        var twoSlots = Machine(1) with { VirtioSlots = [new VirtioMmioSlot(0x2000_0000, 1), new VirtioMmioSlot(0x2000_0800, 2)] };
        Assert.Contains("virtio-mmio slot 0 window", Assert.Throws<ArgumentException>(() => MachineDeviceTree.Build(twoSlots)).Message);

        var wraps = Machine(1) with { Uart = new UartDescription { Base = ulong.MaxValue - 0x10 } };
        Assert.Contains("wraps", Assert.Throws<ArgumentException>(() => MachineDeviceTree.Build(wraps)).Message);
    }

    [Fact]
    public void Interrupt_numbers_must_be_valid_and_unique()
    {
        var shared = Machine(1) with { VirtioSlots = [new VirtioMmioSlot(0x1000_1000, 10)] };
        Assert.Contains("irq 10 is already used by UART", Assert.Throws<ArgumentException>(() => MachineDeviceTree.Build(shared)).Message);

        var zero = Machine(1) with { VirtioSlots = [new VirtioMmioSlot(0x1000_1000, 0)] };
        Assert.Contains("not a PLIC source", Assert.Throws<ArgumentException>(() => MachineDeviceTree.Build(zero)).Message);

        var tooHigh = Machine(1) with { VirtioSlots = [new VirtioMmioSlot(0x1000_1000, 32)] };
        Assert.Contains("valid: 1..31", Assert.Throws<ArgumentException>(() => MachineDeviceTree.Build(tooHigh)).Message);
    }

    [Fact]
    public void Other_inconsistencies_are_rejected_with_clear_messages()
    {
        void Rejects(MachineDescription d, string fragment) =>
            Assert.Contains(fragment, Assert.Throws<ArgumentException>(() => MachineDeviceTree.Build(d)).Message);

        Rejects(Machine(1) with { InitrdStart = 0x8100_0000 }, "both set or both null");
        Rejects(Machine(1) with { InitrdStart = 0x8100_0000, InitrdEnd = 0x8000_0000 }, "below InitrdStart");
        Rejects(Machine(1) with { InitrdStart = 0x8700_0000, InitrdEnd = 0x8900_0000 }, "not inside RAM");
        Rejects(Machine(2) with { PerHartIsa = ["rv64imac"] }, "PerHartIsa has 1 entries but HartCount is 2");
        Rejects(Machine(1) with { Isa = "rv32imac" }, "must start with \"rv64\"");
        Rejects(Machine(1) with { MmuType = "sv39" }, "MmuType");
        Rejects(Machine(1) with { TimebaseFrequency = 0 }, "TimebaseFrequency");
        Rejects(Machine(1) with { RamBase = 0x8000_0800 }, "4 KiB aligned");
        Rejects(Machine(2) with { BootHartId = 2 }, "BootHartId 2");
        Rejects(Machine(4) with { Plic = new PlicDescription { Size = 0x20_4000 } }, "too small for 8 contexts");
        Rejects(Machine(1) with { Plic = new PlicDescription { SourceCount = 0 } }, "riscv,ndev");
        Assert.Throws<ArgumentOutOfRangeException>(() => MachineDescription.Default(1, 1UL << 20, "", virtioSlots: 9));
    }

    [DtcFact]
    public void Agent_uart_is_a_second_ns16550_pinned_to_serial1()
    {
        var d = Machine(1) with { AgentUart = new UartDescription { Base = 0x1000_0100, Irq = 12 } };
        var dts = DtsDocument.Decode(MachineDeviceTree.Build(d));
        var agent = dts["/soc/serial@10000100"];
        Assert.Equal("ns16550a", agent.String("compatible"));
        Assert.Equal(12u, agent.U32("interrupts"));
        Assert.Equal("/soc/serial@10000000", dts["/aliases"].String("serial0"));
        Assert.Equal("/soc/serial@10000100", dts["/aliases"].String("serial1"));
        Assert.Equal("/soc/serial@10000000", dts["/chosen"].String("stdout-path"));
        var overlapping = Machine(1) with { AgentUart = new UartDescription { Base = 0x1000_0000, Irq = 12 } };
        Assert.Contains("overlap", Assert.Throws<ArgumentException>(() => MachineDeviceTree.Build(overlapping)).Message, StringComparison.Ordinal);
    }

    private static void CheckMachine(MachineDescription d)
    {
        var harts = d.HartCount;
        var dts = DtsDocument.Decode(MachineDeviceTree.Build(d));

        var root = dts.Root;
        Assert.Equal(2u, root.U32("#address-cells"));
        Assert.Equal(2u, root.U32("#size-cells"));
        Assert.Equal(["riscv-virtio"], root.Strings("compatible"));
        Assert.Equal(d.Model, root.String("model"));
        Assert.Equal(["chosen", "aliases", "memory@80000000", "cpus", "poweroff", "reboot", "soc"], root.ChildNames);
        Assert.Equal("/soc/serial@10000000", dts["/aliases"].String("serial0"));

        var chosen = dts["/chosen"];
        Assert.Equal("console=ttyS0 earlycon=sbi", chosen.String("bootargs"));
        Assert.Equal("/soc/serial@10000000", chosen.String("stdout-path"));
        Assert.True(dts.Contains(chosen.String("stdout-path")), "stdout-path must name an existing node");

        var memory = dts["/memory@80000000"];
        Assert.Equal("memory", memory.String("device_type"));
        Assert.Equal([0u, 0x8000_0000u, 0u, 128u << 20], memory.Cells("reg"));

        var cpus = dts["/cpus"];
        Assert.Equal(1u, cpus.U32("#address-cells"));
        Assert.Equal(0u, cpus.U32("#size-cells"));
        Assert.Equal(10_000_000u, cpus.U32("timebase-frequency"));
        Assert.Equal(Enumerable.Range(0, harts).Select(h => $"cpu@{h}"), cpus.ChildNames);

        var intc = new uint[harts];
        for (var hart = 0; hart < harts; hart++)
        {
            var cpu = dts[$"/cpus/cpu@{hart}"];
            Assert.Equal("cpu", cpu.String("device_type"));
            Assert.Equal((uint)hart, cpu.U32("reg"));
            Assert.Equal("okay", cpu.String("status"));
            Assert.Equal("riscv", cpu.String("compatible"));
            Assert.Equal(Isa, cpu.String("riscv,isa"));
            Assert.Equal("riscv,sv39", cpu.String("mmu-type"));

            var controller = dts[$"/cpus/cpu@{hart}/interrupt-controller"];
            Assert.Equal("riscv,cpu-intc", controller.String("compatible"));
            Assert.Equal(1u, controller.U32("#interrupt-cells"));
            Assert.True(controller.IsEmpty("interrupt-controller"));
            intc[hart] = controller.U32("phandle");
        }

        Assert.Equal(harts, intc.Distinct().Count());

        var soc = dts["/soc"];
        Assert.Equal("simple-bus", soc.String("compatible"));
        Assert.True(soc.IsEmpty("ranges"));
        Assert.Equal(2u, soc.U32("#address-cells"));
        Assert.Equal(2u, soc.U32("#size-cells"));
        Assert.Equal(
            ["test@100000", "clint@2000000", "plic@c000000", "serial@10000000", "virtio_mmio@10001000", "virtio_mmio@10002000"],
            soc.ChildNames);

        var test = dts["/soc/test@100000"];
        Assert.Equal(["sifive,test1", "sifive,test0", "syscon"], test.Strings("compatible"));
        Assert.Equal([0u, 0x10_0000u, 0u, 0x1000u], test.Cells("reg"));
        var testPhandle = test.U32("phandle");
        foreach (var (node, value) in new[] { ("/poweroff", 0x5555u), ("/reboot", 0x7777u) })
        {
            var action = dts[node];
            Assert.Equal(node == "/poweroff" ? "syscon-poweroff" : "syscon-reboot", action.String("compatible"));
            Assert.Equal(testPhandle, action.U32("regmap"));
            Assert.Equal(0u, action.U32("offset"));
            Assert.Equal(value, action.U32("value"));
        }

        var clint = dts["/soc/clint@2000000"];
        Assert.Equal(["sifive,clint0", "riscv,clint0"], clint.Strings("compatible"));
        Assert.Equal([0u, 0x200_0000u, 0u, 0x1_0000u], clint.Cells("reg"));
        Assert.Equal(intc.SelectMany(p => new[] { p, 3u, p, 7u }), clint.Cells("interrupts-extended"));

        var plic = dts["/soc/plic@c000000"];
        Assert.Equal(["sifive,plic-1.0.0", "riscv,plic0"], plic.Strings("compatible"));
        Assert.Equal([0u, 0xc00_0000u, 0u, 0x60_0000u], plic.Cells("reg"));
        Assert.Equal(0u, plic.U32("#address-cells"));
        Assert.Equal(1u, plic.U32("#interrupt-cells"));
        Assert.True(plic.IsEmpty("interrupt-controller"));
        Assert.Equal(31u, plic.U32("riscv,ndev"));
        Assert.Equal(intc.SelectMany(p => new[] { p, 11u, p, 9u }), plic.Cells("interrupts-extended"));
        var plicPhandle = plic.U32("phandle");

        var uart = dts["/soc/serial@10000000"];
        Assert.Equal("ns16550a", uart.String("compatible"));
        Assert.Equal([0u, 0x1000_0000u, 0u, 0x100u], uart.Cells("reg"));
        Assert.Equal(10u, uart.U32("interrupts"));
        Assert.Equal(plicPhandle, uart.U32("interrupt-parent"));
        Assert.Equal(3_686_400u, uart.U32("clock-frequency"));

        for (var slot = 0; slot < 2; slot++)
        {
            var virtio = dts[$"/soc/virtio_mmio@{0x1000_1000 + (slot * 0x1000):x}"];
            Assert.Equal("virtio,mmio", virtio.String("compatible"));
            Assert.Equal([0u, 0x1000_1000u + ((uint)slot * 0x1000u), 0u, 0x1000u], virtio.Cells("reg"));
            Assert.Equal((uint)slot + 1, virtio.U32("interrupts"));
            Assert.Equal(plicPhandle, virtio.U32("interrupt-parent"));
        }

        var all = new[] { testPhandle, plicPhandle }.Concat(intc).ToArray();
        Assert.Equal(all.Length, all.Distinct().Count());
    }
}
