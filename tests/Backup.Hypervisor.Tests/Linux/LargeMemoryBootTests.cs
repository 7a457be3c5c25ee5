using System.Globalization;
using System.Text.RegularExpressions;
using Backup.Hypervisor.Machine;

namespace Backup.Hypervisor.Tests.Linux;

/// <summary>
/// A 3 GiB VM: the kernel sees all of it, while the host commits only the pages the guest touches (guest RAM is
/// allocated zeroed and lazily by the OS, never copied or pre-touched). Runs alone so the process's resident memory
/// measures this VM only.
/// </summary>
[Collection(SoloGroup.Name)]
public sealed partial class LargeMemoryBootTests
{
    [Fact]
    public void A_3_gib_vm_boots_the_kernel_sees_all_of_it_and_the_host_commits_only_what_is_touched()
    {
        const ulong memory = 3UL << 30;
        long rssBefore = ResidentBytes();
        long rssAfterRun = 0;

        var (exit, text) = GuestBoot.Run(memory, 1, _ => rssAfterRun = ResidentBytes());

        Assert.True(exit.Kind == VmExitKind.PowerOff, $"{exit}\n--- console ---\n{text}");
        Assert.Contains("guest: ready", text, StringComparison.Ordinal);

        // The device tree's memory node covers all 3 GiB: the kernel's node range ends at RAM base + 3 GiB.
        Assert.Contains($"node   0: [mem 0x0000000080200000-0x{0x8000_0000UL + memory - 1:x16}]", text, StringComparison.Ordinal);

        // "Memory: <available>K/<total>K available (...)". The total is the RAM the kernel manages: everything but the
        // 2 MiB below its load address (RAM base + 2 MiB), which a riscv kernel ignores ("OF: fdt: Ignoring memory
        // range 0x80000000 - 0x80200000"), as it does on QEMU. What is not available is the kernel's own reservations
        // (struct pages, the 64 MiB swiotlb bounce buffer, the kernel image).
        var line = MemoryLine().Match(text);
        Assert.True(line.Success, text);
        ulong totalKib = ulong.Parse(line.Groups["total"].Value, CultureInfo.InvariantCulture);
        ulong availableKib = ulong.Parse(line.Groups["available"].Value, CultureInfo.InvariantCulture);
        Assert.Equal((memory - (2UL << 20)) >> 10, totalKib);
        Assert.InRange(availableKib, totalKib / 10 * 9, totalKib);

        // Booting to the shell costs the host what the kernel touched (its image, page tables, ~48 MiB of struct
        // pages for 3 GiB, the swiotlb buffer): about 120 MiB when measured, far from 3 GiB.
        long growth = rssAfterRun - rssBefore;
        Assert.True(growth < (512L << 20), $"host resident memory grew by {growth >> 20} MiB booting a 3 GiB guest");
    }

    private static long ResidentBytes()
    {
        foreach (string statusLine in File.ReadLines("/proc/self/status"))
        {
            if (statusLine.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                string kib = statusLine["VmRSS:".Length..].Trim().Split(' ')[0];
                return long.Parse(kib, CultureInfo.InvariantCulture) << 10;
            }
        }

        throw new InvalidOperationException("/proc/self/status has no VmRSS line");
    }

    [GeneratedRegex(@"Memory: (?<available>\d+)K/(?<total>\d+)K available")]
    private static partial Regex MemoryLine();
}
