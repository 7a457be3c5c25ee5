using Backup.Hypervisor.Memory;

namespace Backup.Hypervisor.Tests.Memory;

public sealed class RamLoaderTests
{
    [Fact]
    public void Pages_written_through_the_kernel_land_in_guest_ram_and_count_as_written()
    {
        using var ram = new GuestRam(0x8000_0000, 16 * 4096);
        var page = new byte[4096];
        new Random(3).NextBytes(page);
        using (var loader = new RamLoader(ram))
        {
            Assert.Equal(OperatingSystem.IsLinux(), loader.ThroughKernel);
            loader.Write(0x8000_0000 + (5 * 4096), page);
            loader.Write(0x8000_0000 + (15 * 4096) + 100, page.AsSpan(0, 3996));
            Assert.Throws<ArgumentOutOfRangeException>(() => loader.Write(0x8000_0000 + (15 * 4096) + 101, page.AsSpan(0, 3996)));
        }

        Assert.True(ram.TryGetSpan(0x8000_0000 + (5 * 4096), 4096, out var written));
        Assert.Equal(page, written.ToArray());
        Assert.True(ram.TryGetSpan(0x8000_0000 + (15 * 4096) + 100, 3996, out var tail));
        Assert.Equal(page.AsSpan(0, 3996).ToArray(), tail.ToArray());
        Assert.True(ram.TryGetSpan(0x8000_0000 + (4 * 4096), 4096, out var untouched));
        Assert.True(untouched.IndexOfAnyExcept((byte)0) < 0);
        Assert.Equal(2, ram.Tracker.DirtyPageCount);
    }
}
