using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Tests.DeviceTree;

namespace Backup.Hypervisor.Tests.Machine;

/// <summary>What the machine puts in RAM for a Linux boot: kernel, initrd, and a device tree that describes them and the devices.</summary>
public sealed class LinuxBootPlacementTests : IDisposable
{
    private readonly string _kernel = Path.Combine(Path.GetTempPath(), $"kernel-{Guid.NewGuid():N}.bin");
    private readonly string _initrd = Path.Combine(Path.GetTempPath(), $"initrd-{Guid.NewGuid():N}.img");

    public LinuxBootPlacementTests()
    {
        File.WriteAllBytes(_kernel, Pattern(300_000, 7)); // no Image header: loaded at RAM base + 2 MiB
        File.WriteAllBytes(_initrd, Pattern(1_234_567, 13));
    }

    public void Dispose()
    {
        File.Delete(_kernel);
        File.Delete(_initrd);
    }

    [DtcFact]
    public void Initrd_is_loaded_below_the_device_tree_and_described_in_chosen_with_the_rtc_and_entropy_device()
    {
        using var vm = new VirtualMachine(new VmConfiguration { KernelPath = _kernel, InitrdPath = _initrd, MemorySize = 64UL << 20 }, _ => { });
        var hart = vm.Harts[0];
        ulong dtbAddress = hart.GetRegister(11);
        ulong start = vm.Description.InitrdStart!.Value;
        ulong end = vm.Description.InitrdEnd!.Value;

        Assert.Equal(0x8020_0000UL, hart.Pc);
        Assert.Equal(0UL, start % 4096);
        Assert.Equal(1_234_567UL, end - start);
        Assert.True(end <= dtbAddress && dtbAddress - end < 4096, $"initrd ends at 0x{end:x}, the device tree is at 0x{dtbAddress:x}");
        Assert.Equal(Pattern(1_234_567, 13), Read(vm, start, 1_234_567));
        Assert.Equal(Pattern(300_000, 7), Read(vm, 0x8020_0000, 300_000));

        int totalSize = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(Read(vm, dtbAddress + 4, 4));
        var dts = DtsDocument.Decode(Read(vm, dtbAddress, totalSize));
        Assert.Equal(start, dts["/chosen"].U64("linux,initrd-start"));
        Assert.Equal(end, dts["/chosen"].U64("linux,initrd-end"));
        Assert.Equal("google,goldfish-rtc", dts["/soc/rtc@101000"].String("compatible"));
        Assert.Equal(11u, dts["/soc/rtc@101000"].U32("interrupts"));
        Assert.Equal(9u, dts["/soc/virtio_mmio@10009000"].U32("interrupts"));
        Assert.True(dts.Warnings.Length == 0, $"dtc warnings:\n{dts.Warnings}");
    }

    [Fact]
    public void Without_an_initrd_chosen_has_none()
    {
        using var vm = new VirtualMachine(new VmConfiguration { KernelPath = _kernel, MemorySize = 64UL << 20 }, _ => { });
        Assert.Null(vm.Description.InitrdStart);
    }

    [Fact]
    public void Bad_initrds_are_refused_with_the_file_named()
    {
        string missing = _initrd + ".missing";
        var e = Assert.Throws<ArgumentException>(() => new VirtualMachine(new VmConfiguration { KernelPath = _kernel, InitrdPath = missing }, _ => { }));
        Assert.Equal($"initrd '{missing}' does not exist", e.Message);

        File.WriteAllBytes(_initrd, new byte[17 << 20]);
        e = Assert.Throws<ArgumentException>(() => new VirtualMachine(new VmConfiguration { KernelPath = _kernel, InitrdPath = _initrd, MemorySize = 16UL << 20 }, _ => { }));
        Assert.Contains($"initrd '{_initrd}' ({17 << 20} bytes) is larger than the VM's 16 MiB of RAM", e.Message, StringComparison.Ordinal);

        File.WriteAllBytes(_initrd, new byte[13 << 20]);
        e = Assert.Throws<ArgumentException>(() => new VirtualMachine(new VmConfiguration { KernelPath = _kernel, InitrdPath = _initrd, MemorySize = 16UL << 20 }, _ => { }));
        Assert.Contains("does not fit in 16 MiB of RAM beside the kernel", e.Message, StringComparison.Ordinal);

        e = Assert.Throws<ArgumentException>(() => new VirtualMachine(new VmConfiguration { ElfPath = _kernel, InitrdPath = _initrd }, _ => { }));
        Assert.Contains("needs a kernel", e.Message, StringComparison.Ordinal);
    }

    private static byte[] Pattern(int length, int seed)
    {
        var bytes = new byte[length];
        for (int i = 0; i < length; i++)
        {
            bytes[i] = (byte)((i * seed) + (i >> 8));
        }

        return bytes;
    }

    private static byte[] Read(VirtualMachine vm, ulong address, int length)
    {
        Assert.True(vm.Ram.TryGetSpan(address, length, out var span));
        return span.ToArray();
    }
}
