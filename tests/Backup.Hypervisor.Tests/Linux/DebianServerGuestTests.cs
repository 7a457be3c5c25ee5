using System.Diagnostics;
using Backup.Disks.BlockDevices;
using Backup.Disks.Overlays;
using Backup.Hypervisor.Boot;
using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Tests.Support;
using Backup.Hypervisor.Timing;
using Backup.Hypervisor.Translation;
using Backup.TestSupport;
using Xunit.Abstractions;

namespace Backup.Hypervisor.Tests.Linux;

/// <summary>A fact that needs the Debian server guest; skipped with the reason when $BACKUP_DEBIAN_SERVER_DIR is unset.</summary>
public sealed class DebianServerGuestFactAttribute : FactAttribute
{
    public DebianServerGuestFactAttribute()
    {
        if (DebianServerGuest.SkipReason() is { } reason)
        {
            Skip = reason;
        }
    }
}

/// <summary>
/// The Debian server guest (appliance/guest/debian-server/build: stock Debian trixie with systemd, PostgreSQL and its
/// write workload, made by debootstrap whose second stage ran inside our VM) boots on our core until the workload has
/// committed a row: directly (the guest's own kernel and initramfs-tools initramfs, root=/dev/vda1) and through
/// OpenSBI + U-Boot reading the disk's /boot/extlinux/extlinux.conf. The disk is never written: the guest writes
/// into a temporary overlay.
/// </summary>
public sealed class DebianServerGuestTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(10);

    [DebianServerGuestFact]
    public void Boots_directly_with_its_own_initramfs_and_commits_workload_rows()
    {
        var guest = DebianServerGuest.Locate();
        var result = BootUntilReady(guest, new VmConfiguration
        {
            KernelPath = guest.KernelPath,
            InitrdPath = guest.InitrdPath,
            CommandLine = guest.CommandLine,
            MemorySize = 1UL << 30,
            CpuCount = 2,
            Clock = ClockMode.RealTime,
            Execution = ExecutionMode.Translated,
        });
        AssertReady("direct boot", result, ["Run /init as init process", "systemd", "Reached target", DebianServerGuest.PostgresReadyMarker]);
    }

    [DebianServerGuestFact]
    public void Boots_through_opensbi_and_u_boot_from_its_extlinux_conf_and_commits_workload_rows()
    {
        var guest = DebianServerGuest.Locate();
        var result = BootUntilReady(guest, new VmConfiguration
        {
            Firmware = FirmwareBoot.OpenSbiUBoot(),
            MemorySize = 1UL << 30,
            CpuCount = 2,
            Clock = ClockMode.RealTime,
            Execution = ExecutionMode.Translated,
        });
        AssertReady("OpenSBI + U-Boot", result,
            ["OpenSBI v", "U-Boot 20", "extlinux/extlinux.conf", "Starting kernel ...", "Run /init as init process", DebianServerGuest.PostgresReadyMarker]);
    }

    private sealed record Result(string Console, TimeSpan? ToReady, TimeSpan Elapsed, VmExit? Exit);

    /// <summary>Boots until the postgres-ready marker (then stops the machine), an exit, a kernel panic or <see cref="Limit"/>.</summary>
    private Result BootUntilReady(DebianServerGuest guest, VmConfiguration config)
    {
        string overlayPath = Path.Combine(Path.GetTempPath(), $"debian-server-{Guid.NewGuid():N}.overlay");
        try
        {
            using var baseDisk = RawFileDisk.Open(guest.DiskPath, readOnly: true);
            using var disk = OverlayDisk.Open(baseDisk, overlayPath, "debian-server-test", leaveBaseOpen: true);
            var console = new ConsoleCapture();
            var stopwatch = Stopwatch.StartNew();
            TimeSpan? toReady = null;
            VirtualMachine? machine = null;
            var line = new System.Text.StringBuilder();
            using var vm = new VirtualMachine(config with { Disks = [disk] }, b =>
            {
                console.Write(b);
                if (b != '\n')
                {
                    line.Append((char)b);
                    return;
                }

                string text = line.ToString();
                line.Clear();
                if (toReady is null && text.Contains(DebianServerGuest.PostgresReadyMarker, StringComparison.Ordinal))
                {
                    toReady = stopwatch.Elapsed;
                    machine!.RequestStop("the workload committed its first row");
                }
                else if (text.Contains("Kernel panic", StringComparison.Ordinal))
                {
                    machine!.RequestStop("the guest kernel panicked");
                }
            });
            machine = vm;
            vm.Start();
            if (!vm.WaitForExit(Limit, out var exit))
            {
                vm.RequestStop($"the test's {Limit.TotalMinutes}-minute limit");
                exit = vm.WaitForExit();
            }

            output.WriteLine($"{exit} after {stopwatch.Elapsed.TotalSeconds:F1} s; '{DebianServerGuest.PostgresReadyMarker}' after {toReady?.TotalSeconds.ToString("F1") ?? "never"} s");
            return new Result(console.Text, toReady, stopwatch.Elapsed, exit);
        }
        finally
        {
            File.Delete(overlayPath);
            File.Delete(overlayPath + ".map");
        }
    }

    private static void AssertReady(string how, Result result, string[] milestones)
    {
        string tail = result.Console.Length > 8000 ? result.Console[^8000..] : result.Console;
        int at = 0;
        foreach (string milestone in milestones)
        {
            int found = result.Console.IndexOf(milestone, at, StringComparison.Ordinal);
            Assert.True(found >= 0, $"{how}: '{milestone}' missing (or out of order) on the console ({result.Exit})\n--- console (end) ---\n{tail}");
            at = found + milestone.Length;
        }

        Assert.NotNull(result.ToReady);
        Assert.DoesNotContain("Kernel panic", result.Console, StringComparison.Ordinal);
    }
}
