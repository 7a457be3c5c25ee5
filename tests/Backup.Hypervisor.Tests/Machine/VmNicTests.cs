using Backup.Hypervisor.Devices.Virtio;
using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Snapshots;
using Backup.Hypervisor.Timing;
using Backup.Network.Ethernet;
using Backup.TestSupport;

namespace Backup.Hypervisor.Tests.Machine;

/// <summary>A VM's NICs: configuration checks, where they sit, what a checkpoint holds of them, unplugging on dispose.</summary>
public sealed class VmNicTests : IDisposable
{
    private static readonly MacAddress Mac0 = MacAddress.Parse("52:54:00:00:01:00");
    private static readonly MacAddress Mac1 = MacAddress.Parse("52:54:00:00:01:01");
    private readonly InMemoryLinkPair _pair0 = new();
    private readonly InMemoryLinkPair _pair1 = new();

    public void Dispose()
    {
        _pair0.Dispose();
        _pair1.Dispose();
    }

    /// <summary>Reads the DeviceID register of both NIC slots and exits (HTIF) with id0 + 10 * id1.</summary>
    private static string ProbeNics() => RiscvAssembler.AssembleElf($"""
            .section .text
            .globl _start
        _start:
            li t0, 0x{VirtualMachine.NicBase:x}
            lw t1, 8(t0)
            li t0, 0x{VirtualMachine.NicBase + 0x1000:x}
            lw t2, 8(t0)
            li t3, 10
            mul t2, t2, t3
            add t1, t1, t2
            slli t1, t1, 1
            ori t1, t1, 1
            la t0, tohost
            sd t1, 0(t0)
        1:  j 1b
        {BareMetalVirtio.Epilogue}
        """);

    private VmConfiguration Config(string elf, int nics = 2) => new()
    {
        ElfPath = elf,
        MemorySize = 16UL << 20,
        Clock = ClockMode.Deterministic,
        InstructionLimit = 10_000_000,
        Nics = [.. new[] { new VmNic(Mac0, _pair0.A), new VmNic(Mac1, _pair1.A) }.Take(nics)],
    };

    [Fact]
    public void Nics_sit_after_the_agent_slot_with_irqs_from_15_and_answer_as_virtio_net()
    {
        using var vm = new VirtualMachine(Config(ProbeNics()), _ => { });
        Assert.Contains(vm.Description.VirtioSlots, s => s.Base == 0x1000_C000 && s.Irq == 15);
        Assert.Contains(vm.Description.VirtioSlots, s => s.Base == 0x1000_D000 && s.Irq == 16);
        Assert.DoesNotContain(vm.Description.VirtioSlots, s => s.Base == 0x1000_B000 || s.Irq == 14);
        Assert.Equal([Mac0, Mac1], vm.Nics.Select(n => n.Mac));
        var exit = vm.Run();
        Assert.Equal(VmExitKind.HtifExit, exit.Kind);
        Assert.Equal(11, exit.ExitCode);
    }

    [Theory]
    [InlineData(5, "at most 4")]
    [InlineData(-1, "already has")]
    [InlineData(-2, "not a unicast")]
    public void Bad_nic_configurations_are_refused_naming_the_problem(int shape, string message)
    {
        using var extra = new InMemoryLinkPair();
        IReadOnlyList<VmNic> nics = shape switch
        {
            5 => [.. Enumerable.Range(0, 5).Select(i => new VmNic(new MacAddress(0x5254_0000_0100UL + (ulong)i), extra.A))],
            -1 => [new VmNic(Mac0, _pair0.A), new VmNic(Mac0, _pair1.A)],
            _ => [new VmNic(MacAddress.Parse("01:00:5e:00:00:fb"), _pair0.A)],
        };
        var e = Assert.Throws<ArgumentException>(() => (Config(HostilePrograms.Pass()) with { Nics = nics }).Validate());
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_checkpoint_holds_each_nics_sections_and_restores_only_into_a_machine_with_the_same_nics()
    {
        string elf = HostilePrograms.ConsoleChatter();
        string withNics = Path.Combine(Path.GetTempPath(), $"nics-{Guid.NewGuid():N}.vmstate");
        string without = Path.Combine(Path.GetTempPath(), $"no-nics-{Guid.NewGuid():N}.vmstate");
        try
        {
            using (var vm = new VirtualMachine(Config(elf), _ => { }))
            {
                vm.RunUntil(100_000);
                await vm.Checkpoint(withNics, incremental: false).Completion.WaitAsync(TimeSpan.FromMinutes(1));
            }

            using (var vm = new VirtualMachine(Config(elf, nics: 0), _ => { }))
            {
                vm.RunUntil(100_000);
                await vm.Checkpoint(without, incremental: false).Completion.WaitAsync(TimeSpan.FromMinutes(1));
            }

            using (var restored = VirtualMachine.Restore(Config(elf), [withNics], _ => { }))
            {
                Assert.Equal(2, restored.Nics.Count);
            }

            using (var restored = VirtualMachine.Restore(Config(elf, nics: 0), [without], _ => { }))
            {
                Assert.Empty(restored.Nics); // a machine without NICs restores as before
            }

            var extra = Assert.Throws<VmStateFormatException>(() => VirtualMachine.Restore(Config(elf, nics: 0), [withNics], _ => { }));
            Assert.Contains("virtio-net0", extra.Message, StringComparison.Ordinal);
            var missing = Assert.Throws<VmStateFormatException>(() => VirtualMachine.Restore(Config(elf), [without], _ => { }));
            Assert.Contains("virtio-net0", missing.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(withNics);
            File.Delete(without);
        }
    }

    [Fact]
    public void Disposing_the_vm_unplugs_its_nics_and_frames_arriving_later_harm_nothing()
    {
        var vm = new VirtualMachine(Config(HostilePrograms.ConsoleChatter()), _ => { });
        vm.Start();
        _pair0.A.AcceptedOffloads = OffloadCapabilities.Checksum;
        vm.Dispose();
        Assert.Equal(OffloadCapabilities.None, _pair0.A.RequestedOffloads);
        var frame = new byte[60];
        Mac0.Write(frame);
        Assert.True(_pair0.B.Transmit(frame, FrameOffload.None)); // queued on the link, nobody is woken
        Assert.Equal(1, _pair0.A.QueuedFrames);
        Assert.Equal(VirtioNetDevice.NetDeviceId, vm.Nics[0].DeviceId);
    }
}
