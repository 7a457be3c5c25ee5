using Backup.Disks.BlockDevices;
using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Tests.Boot;
using Backup.Hypervisor.Tests.Snapshots;
using Backup.Hypervisor.Tests.Support;
using Backup.Hypervisor.Translation;

namespace Backup.Hypervisor.Tests.Translation;

/// <summary>
/// A device writing guest RAM by DMA over code that has been translated: the translation is dropped and the guest runs
/// the new code at once, as the interpreter does (the same page-write hook serves dirty pages and code invalidation).
/// </summary>
public sealed class DmaInvalidationTests : IDisposable
{
    // Calls func (li a0, 1) 6000 times, which makes it hot; then reads one disk sector over func by virtio DMA (no
    // FENCE.I, so only the DMA write itself can invalidate the translation) and calls it 6000 times more. The sector
    // holds li a0, 2 / ret. Prints the sum of the results.
    private const string Program = """
        main:
            call virtio_init
            li s0, 0
            li s1, 0
        loop:
            call func
            add s1, s1, a0
            addi s0, s0, 1
            li t0, 6000
            bne s0, t0, 1f
            li a0, 16
            la a1, func
            li a2, 512
            call virtio_read
            bnez a0, fail
        1:  li t0, 12000
            bltu s0, t0, loop
            mv a0, s1
            call put_hex
            j power_off

            .balign 4096
        func:
            li a0, 1
            ret
        """;

    private readonly string _dir = Directory.CreateTempSubdirectory("dma-invalidation-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [RiscvToolchainFact]
    public void Dma_over_translated_code_invalidates_it_and_the_guest_runs_the_new_code()
    {
        string elf = BareMetalGuest.Build(Program);
        var results = new Dictionary<ExecutionMode, string>();
        foreach (var mode in new[] { ExecutionMode.Interpreter, ExecutionMode.Translated })
        {
            string diskPath = Path.Combine(_dir, $"{mode}.img");
            BareMetalGuest.CreateDisk(diskPath);
            using var disk = RawFileDisk.Open(diskPath);
            var sector = new byte[512];
            BitConverter.TryWriteBytes(sector.AsSpan(0), 0x00200513U); // li a0, 2
            BitConverter.TryWriteBytes(sector.AsSpan(4), 0x00008067U); // ret
            disk.Write(16 * 512, sector);

            var console = new ConsoleCapture();
            using var vm = new VirtualMachine(BareMetalGuest.Config(elf, disk, mode), console.Write);
            var exit = vm.Run();
            Assert.True(exit.Kind == VmExitKind.PowerOff, $"{mode}: {exit}\n{console.Text}");
            results[mode] = console.Text;

            var stats = vm.Harts[0].TranslationStatistics;
            if (mode == ExecutionMode.Translated)
            {
                Assert.True(stats.BlocksCompiled > 0 && stats.PagesInvalidated > 0, $"compiled {stats.BlocksCompiled}, pages invalidated {stats.PagesInvalidated}");
            }
        }

        Assert.Equal($"{(6000 * 1) + (6000 * 2):x16}\n", results[ExecutionMode.Interpreter]);
        Assert.Equal(results[ExecutionMode.Interpreter], results[ExecutionMode.Translated]);
    }
}
