using Backup.Hypervisor.Boot;

namespace Backup.Hypervisor.Tests.Boot;

public sealed class LinuxBootLayoutTests
{
    private const ulong Base = 0x8000_0000;
    private const ulong MiB = 1UL << 20;

    [Fact]
    public void Initrd_sits_page_aligned_directly_below_the_device_tree_at_the_top_of_ram()
    {
        var layout = LinuxBootLayout.Plan(Base, 256 * MiB, "Image", 31_167_488, null, 4000, "initrd.img", 2_220_993);

        Assert.Equal(Base + (2 * MiB), layout.KernelAddress);
        Assert.Equal(Base + (2 * MiB) + 31_167_488, layout.KernelEnd);
        Assert.Equal(Base + (254 * MiB), layout.DeviceTreeAddress); // top minus the tree, aligned down to 2 MiB
        Assert.Equal(0UL, layout.InitrdStart!.Value % 4096);
        Assert.Equal(layout.InitrdStart.Value + 2_220_993, layout.InitrdEnd);
        Assert.True(layout.InitrdEnd <= layout.DeviceTreeAddress);
        Assert.True(layout.DeviceTreeAddress - layout.InitrdEnd!.Value < 4096);
        Assert.True(layout.InitrdStart >= layout.KernelEnd);
    }

    [Fact]
    public void Without_an_initrd_nothing_is_placed_for_it_and_large_ram_keeps_the_tree_below_3_GiB()
    {
        var layout = LinuxBootLayout.Plan(Base, 8UL << 30, "Image", 4 * (long)MiB, null, 5000);

        Assert.Null(layout.InitrdStart);
        Assert.Null(layout.InitrdEnd);
        Assert.Equal(Base + (3UL << 30) - (2 * MiB), layout.DeviceTreeAddress);
    }

    [Fact]
    public void An_initrd_larger_than_ram_is_refused_naming_the_file()
    {
        var e = Assert.Throws<ArgumentException>(() =>
            LinuxBootLayout.Plan(Base, 64 * MiB, "Image", 4 * (long)MiB, null, 4000, "/tmp/huge.img", 64 * (long)MiB));
        Assert.Contains("'/tmp/huge.img'", e.Message, StringComparison.Ordinal);
        Assert.Contains("larger than the VM's 64 MiB", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_initrd_that_does_not_fit_beside_the_kernel_and_device_tree_is_refused()
    {
        // 64 MiB of RAM, the tree at 62 MiB, a 31 MiB kernel from 2 MiB to 33 MiB: 29 MiB free, a 30 MiB initrd.
        var e = Assert.Throws<ArgumentException>(() =>
            LinuxBootLayout.Plan(Base, 64 * MiB, "/k/Image", 31 * (long)MiB, null, 4000, "/tmp/initrd.img", 30 * (long)MiB));
        Assert.Contains("initrd '/tmp/initrd.img'", e.Message, StringComparison.Ordinal);
        Assert.Contains("beside the kernel '/k/Image'", e.Message, StringComparison.Ordinal);
        Assert.Contains("give the VM more memory", e.Message, StringComparison.Ordinal);

        var fits = LinuxBootLayout.Plan(Base, 64 * MiB, "/k/Image", 31 * (long)MiB, null, 4000, "/tmp/initrd.img", 29 * (long)MiB);
        Assert.Equal(Base + (33 * MiB), fits.InitrdStart);
    }

    [Fact]
    public void A_kernel_that_does_not_fit_in_ram_is_refused_naming_the_file()
    {
        var e = Assert.Throws<ArgumentException>(() => LinuxBootLayout.Plan(Base, 16 * MiB, "/k/big", 31 * (long)MiB, null, 4000));
        Assert.Contains("kernel '/k/big'", e.Message, StringComparison.Ordinal);
        Assert.Contains("does not fit in 16 MiB of RAM", e.Message, StringComparison.Ordinal);

        // It fits the RAM but runs into the device tree at the top.
        var e2 = Assert.Throws<ArgumentException>(() => LinuxBootLayout.Plan(Base, 32 * MiB, "/k/big", 29 * (long)MiB, null, 4000));
        Assert.Contains("with its device tree", e2.Message, StringComparison.Ordinal);
    }
}
