using Backup.Disks.BlockDevices;
using Backup.Disks.Snapshots;
using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Snapshots;
using Backup.Hypervisor.Tests.Boot;

namespace Backup.Hypervisor.Tests.Snapshots;

/// <summary>
/// Incremental checkpoints carry exactly the pages written since the previous cut, whoever wrote them: the CPU (plain
/// stores, a byte store, an atomic) and a device writing guest RAM by DMA (a virtio-blk read), and nothing else.
/// </summary>
public sealed class DirtyPageTests : IDisposable
{
    private const int S11 = 27;
    private const ulong PageA = 0x8005_0000, PageB = 0x8005_1000, PageC = 0x8005_2000, DmaTarget = 0x8006_0000;
    private const int DmaBytes = 8192;
    private const long DmaSector = 8;

    // Phase 1 sets up the virtqueue (registers only) and waits for a console byte; phase 2 writes three pages from the
    // CPU and reads 8 KiB from the disk into two pages it never touches itself; phase 3 writes nothing. The waits
    // poll the UART and write no memory.
    private const string Program = """
        main:
            call virtio_init
            li s11, 1
            call wait_input
            li t0, 0x80050000
            li t1, 0x1111
            sd t1, 0(t0)
            li t0, 0x80051fff
            li t1, 0x22
            sb t1, 0(t0)
            li t0, 0x80052000
            li t1, 0x33
            amoadd.w zero, t1, (t0)
            li a0, 8
            li a1, 0x80060000
            li a2, 8192
            call virtio_read
            bnez a0, fail
            li s11, 2
            call wait_input
            li s11, 3
            call wait_input
            j power_off
        """;

    private readonly string _dir = Directory.CreateTempSubdirectory("dirty-pages-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [RiscvToolchainFact]
    public async Task An_incremental_holds_exactly_the_pages_the_cpu_and_dma_wrote_since_the_previous_cut()
    {
        string diskPath = Path.Combine(_dir, "disk.img");
        BareMetalGuest.CreateDisk(diskPath);
        using var disk = RawFileDisk.Open(diskPath);
        var config = BareMetalGuest.Config(BareMetalGuest.Build(Program), disk);
        string full = Path.Combine(_dir, "1-full.vmstate"), second = Path.Combine(_dir, "2.vmstate"), third = Path.Combine(_dir, "3.vmstate");
        using var vm = new VirtualMachine(config, _ => { });

        BareMetalGuest.RunUntilRegister(vm, S11, 1);
        var cut = vm.Checkpoint(full);
        Assert.Equal(Guid.Empty, cut.ParentId);
        await cut.Completion.WaitAsync(TimeSpan.FromMinutes(1));
        Assert.Equal([0UL], Pages(full).Keys.Order()); // the program's text, loaded from the ELF: the only page ever written

        vm.SendConsoleInput("g"u8);
        BareMetalGuest.RunUntilRegister(vm, S11, 2);
        cut = vm.Checkpoint(second);
        Assert.Equal(VmStateFile.ReadHeader(full).Id, cut.ParentId);
        long written = await cut.Completion.WaitAsync(TimeSpan.FromMinutes(1));
        var pages = Pages(second);
        ulong queue = Index(BareMetalGuest.QueuePage);
        ulong[] expected = [queue, Index(PageA), Index(PageB), Index(PageC), Index(DmaTarget), Index(DmaTarget) + 1];
        Assert.Equal(expected.Order(), pages.Keys.Order()); // the virtqueue page (driver and device), the CPU's three, the DMA's two
        Assert.Equal(expected.Length, cut.PagesToSave);
        Assert.Equal(expected.Length, written);

        Assert.Equal(0x1111UL, BitConverter.ToUInt64(pages[Index(PageA)]));
        Assert.Equal(0x22, pages[Index(PageB)][4095]);
        Assert.Equal(0x33U, BitConverter.ToUInt32(pages[Index(PageC)]));
        byte[] dma = [.. pages[Index(DmaTarget)], .. pages[Index(DmaTarget) + 1]];
        Assert.Equal(Enumerable.Range(0, DmaBytes).Select(i => BareMetalGuest.DiskByte((DmaSector * 512) + i)), dma);

        vm.SendConsoleInput("g"u8);
        BareMetalGuest.RunUntilRegister(vm, S11, 3);
        cut = vm.Checkpoint(third);
        Assert.Equal(0, await cut.Completion.WaitAsync(TimeSpan.FromMinutes(1)));
        Assert.Empty(Pages(third));

        // The three files rebuild the machine.
        using var restored = VirtualMachine.Restore(config, [full, second, third], _ => { });
        Assert.Equal(vm.DigestState(), restored.DigestState());
    }

    [RiscvToolchainFact]
    public async Task A_checkpoint_that_fails_at_the_cut_leaves_no_file_and_the_next_one_still_holds_every_page_written()
    {
        string diskPath = Path.Combine(_dir, "tracked.img"), sideStore = Path.Combine(_dir, "side");
        BareMetalGuest.CreateDisk(diskPath);
        using var disk = TrackedDisk.Open(RawFileDisk.Open(diskPath), new TrackedDiskOptions { ImagePath = diskPath, SideStoreDirectory = sideStore });
        var config = BareMetalGuest.Config(BareMetalGuest.Build(Program), disk);
        string full = Path.Combine(_dir, "1-full.vmstate"), second = Path.Combine(_dir, "2.vmstate");
        using var vm = new VirtualMachine(config, _ => { });

        BareMetalGuest.RunUntilRegister(vm, S11, 1);
        var cut = vm.Checkpoint(full);
        await cut.Completion.WaitAsync(TimeSpan.FromMinutes(1));
        Assert.True(cut.StunTime >= cut.DiskCutTime && cut.DiskCutTime > TimeSpan.Zero, $"stun {cut.StunTime}, of which disks {cut.DiskCutTime}");
        cut.Disks[0]!.Dispose();

        vm.SendConsoleInput("g"u8);
        BareMetalGuest.RunUntilRegister(vm, S11, 2);

        // The disk's snapshot cannot be created (its side store is gone): the checkpoint fails, and leaves nothing behind.
        Directory.Delete(sideStore, recursive: true);
        Assert.ThrowsAny<IOException>(() => vm.Checkpoint(second));
        Assert.False(File.Exists(second), "a failed checkpoint left a partial state file");

        Directory.CreateDirectory(sideStore);
        cut = vm.Checkpoint(second);
        await cut.Completion.WaitAsync(TimeSpan.FromMinutes(1));
        cut.Disks[0]!.Dispose();
        Assert.Equal(VmStateFile.ReadHeader(full).Id, cut.ParentId);
        ulong[] expected = [Index(BareMetalGuest.QueuePage), Index(PageA), Index(PageB), Index(PageC), Index(DmaTarget), Index(DmaTarget) + 1];
        Assert.Equal(expected.Order(), Pages(second).Keys.Order());
    }

    private static ulong Index(ulong address) => (address - BareMetalGuest.RamBase) / VmStateFile.PageSize;

    /// <summary>The page records of a state file: index to contents (zeros for a zero-page record).</summary>
    private static Dictionary<ulong, byte[]> Pages(string path)
    {
        using var stream = File.OpenRead(path);
        using var reader = new VmStateFile.Reader(stream, path);
        var pages = new Dictionary<ulong, byte[]>();
        while (reader.Next(out string? section, out _, out byte[]? payload, out ulong page))
        {
            if (section is null)
            {
                Assert.True(pages.TryAdd(page, payload?.ToArray() ?? new byte[VmStateFile.PageSize]), $"page {page} is recorded twice");
            }
        }

        return pages;
    }
}
