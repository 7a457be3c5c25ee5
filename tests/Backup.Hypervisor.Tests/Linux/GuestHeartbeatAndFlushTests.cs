using System.Text;
using Backup.Disks.BlockDevices;
using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Tests.Devices.Virtio;
using Backup.Hypervisor.Tests.Support;
using Backup.Hypervisor.Timing;
using Backup.TestSupport;

namespace Backup.Hypervisor.Tests.Linux;

/// <summary>
/// The real guest's init (docs/guest.md): <c>guest.heartbeat=N</c> prints <c>guest: heartbeat K</c> every N seconds
/// and <c>guest.poweroff=K</c> powers off after K of them; its disk test's fsync becomes a VIRTIO_BLK_T_FLUSH that
/// must reach the host disk, and a host disk whose flush fails is an EIO the guest survives.
/// The disk is a <see cref="WriteBackCacheDisk"/>: the guest's block is in the image file only if a flush got there.
/// </summary>
public sealed class GuestHeartbeatAndFlushTests : IDisposable
{
    private readonly string _diskPath = Path.Combine(Path.GetTempPath(), $"guest-flush-{Guid.NewGuid():N}.img");

    public void Dispose() => File.Delete(_diskPath);

    [Fact]
    public void Heartbeats_1_and_2_come_a_second_apart_after_ready_and_the_guests_fsync_reaches_the_host_disk()
    {
        using var raw = RawFileDisk.Create(_diskPath, 16L << 20);
        var disk = new WriteBackCacheDisk(raw);
        var console = new ConsoleCapture();
        var beats = new List<(string Line, ulong Ticks)>();
        var flushes = new List<(IReadOnlyList<long> Sectors, bool GuestHadReportedSuccess)>();
        VirtualMachine? machine = null;
        var line = new StringBuilder();
        void Output(byte b)
        {
            console.Write(b);
            if (b != '\n')
            {
                line.Append((char)b);
                return;
            }

            string text = line.ToString().TrimEnd('\r');
            line.Clear();
            if (text.StartsWith("guest: heartbeat", StringComparison.Ordinal))
            {
                beats.Add((text, machine!.Clock.Now));
            }
        }

        disk.FlushObserver = sectors => flushes.Add((sectors, console.Contains("guest: disk write ok")));
        using var vm = machine = new VirtualMachine(new VmConfiguration
        {
            KernelPath = GuestImage.KernelPath,
            MemorySize = 64UL << 20,
            CommandLine = "console=ttyS0 guest.heartbeat=1 guest.poweroff=2",
            Disks = [disk],
            Clock = ClockMode.Deterministic,
            InstructionLimit = 2_000_000_000,
        }, Output);

        var exit = vm.Run();
        string text = console.Text;

        Assert.True(exit.Kind == VmExitKind.PowerOff, $"{exit}\n--- console ---\n{text}");
        Assert.Equal(["guest: heartbeat 1", "guest: heartbeat 2"], beats.Select(b => b.Line));
        int ready = text.IndexOf("guest: ready", StringComparison.Ordinal);
        int first = text.IndexOf("guest: heartbeat 1", StringComparison.Ordinal);
        int second = text.IndexOf("guest: heartbeat 2", StringComparison.Ordinal);
        int poweroff = text.IndexOf("guest: poweroff", StringComparison.Ordinal);
        Assert.True(ready >= 0 && ready < first && first < second && second < poweroff, text);

        // guest.heartbeat=1: one second of guest time (the timebase is 10 MHz) between the two lines.
        ulong interval = beats[1].Ticks - beats[0].Ticks;
        Assert.InRange(interval, 9_000_000UL, 12_000_000UL);

        // The disk test wrote sector 1 and fsync'ed it: a flush carrying that sector reached the host disk before the
        // guest printed its success (the cache disk would otherwise have held it until the machine's exit flush).
        Assert.Contains("guest: disk write ok", text, StringComparison.Ordinal);
        long blockSector = GuestDiskLayout.BlockOffset / 512;
        Assert.Contains(flushes, f => f.Sectors.Contains(blockSector) && !f.GuestHadReportedSuccess);
        byte[] image = File.ReadAllBytes(_diskPath);
        Assert.Equal(GuestDiskLayout.Magic, Encoding.ASCII.GetString(image, GuestDiskLayout.BlockOffset, GuestDiskLayout.Magic.Length));
    }

    [Fact]
    public void A_host_disk_whose_flush_fails_is_an_io_error_to_the_guest_which_runs_on_to_power_off_and_the_exit_names_the_disk()
    {
        using var raw = RawFileDisk.Create(_diskPath, 16L << 20);
        var disk = new WriteBackCacheDisk(raw) { FlushFailure = new IOException("simulated: the drive could not write its cache back") };
        var console = new ConsoleCapture();
        var hostLog = new List<string>();
        using var vm = new VirtualMachine(new VmConfiguration
        {
            KernelPath = GuestImage.KernelPath,
            MemorySize = 64UL << 20,
            CommandLine = "console=ttyS0 guest.poweroff=0",
            Disks = [disk],
            Clock = ClockMode.Deterministic,
            InstructionLimit = 2_000_000_000,
        }, console.Write, message =>
        {
            lock (hostLog)
            {
                hostLog.Add(message);
            }
        });

        var exit = vm.Run();
        string text = console.Text;

        // The guest ran on to its own power-off; the host's final flush of the still-failing disk then turns the clean
        // exit into an Error naming the disk (a lost write-back is never reported as a clean stop).
        Assert.True(exit.Kind == VmExitKind.Error, $"{exit}\n--- console ---\n{text}");
        Assert.Contains("the guest powered off, but the final flush of disk0 failed", exit.Message, StringComparison.Ordinal);
        Assert.Contains("guest: disk write FAILED fsync: EIO (5)", text, StringComparison.Ordinal);
        Assert.DoesNotContain("guest: disk write ok", text, StringComparison.Ordinal);
        Assert.Contains("guest: poweroff", text, StringComparison.Ordinal);
        Assert.Contains(hostLog, m => m.Contains("flush failed", StringComparison.Ordinal) && m.Contains("VIRTIO_BLK_S_IOERR", StringComparison.Ordinal));
        Assert.Contains("flush failed", disk.Log);
        Assert.Equal(0, disk.Flushes);
    }
}
