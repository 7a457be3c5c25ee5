using Backup.Disks.BlockDevices;
using Backup.Hypervisor.Agent;
using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Tests.Support;
using Backup.Hypervisor.Timing;
using Backup.Hypervisor.Translation;
using Backup.TestSupport;

namespace Backup.Hypervisor.Tests.Linux;

/// <summary>
/// The Debian QEMU guest agent guest running on our core (translated, real time, 256 MiB) with a 16 MiB ext4 data
/// disk that /init mounts at /data, the virtio-serial agent port, and the console captured. Disposing stops the VM
/// and deletes the disk and any checkpoint files.
/// </summary>
internal sealed class QgaGuestRun : IDisposable
{
    private readonly RawFileDisk _disk;

    private QgaGuestRun(DebianQgaGuest guest, string directory)
    {
        Directory = directory;
        string diskPath = Path.Combine(directory, "data.ext4");
        Ext4Image.Create(diskPath, 16, new Dictionary<string, string> { ["from-host.txt"] = "hello\n" });
        _disk = RawFileDisk.Open(diskPath, readOnly: false);
        Machine = new VirtualMachine(new VmConfiguration
        {
            KernelPath = guest.KernelPath,
            InitrdPath = guest.InitrdPath,
            MemorySize = 256UL << 20,
            CommandLine = "console=ttyS0",
            Clock = ClockMode.RealTime,
            Execution = ExecutionMode.Translated,
            QemuGuestAgent = true,
            Disks = [_disk],
        }, Console.Write, Log.Enqueue);
    }

    public string Directory { get; }

    public VirtualMachine Machine { get; }

    public ConsoleCapture Console { get; } = new();

    public System.Collections.Concurrent.ConcurrentQueue<string> Log { get; } = new();

    public QemuGuestAgentClient Agent => Machine.QemuAgent!;

    /// <summary>Boots the guest and waits until qemu-ga answers guest-ping.</summary>
    public static async Task<QgaGuestRun> StartAsync(DebianQgaGuest guest)
    {
        string directory = Path.Combine(Path.GetTempPath(), $"debian-qga-{Guid.NewGuid():N}");
        System.IO.Directory.CreateDirectory(directory);
        var run = new QgaGuestRun(guest, directory);
        try
        {
            run.Machine.Start();
            await run.Agent.WaitUntilReadyAsync(TimeSpan.FromMinutes(3));
            return run;
        }
        catch (QemuGuestAgentException e)
        {
            string console = run.Console.Text;
            run.Dispose();
            throw new InvalidOperationException($"qemu-ga never answered: {e.Message}\n--- console (end) ---\n{(console.Length > 6000 ? console[^6000..] : console)}", e);
        }
    }

    /// <summary>Waits up to <paramref name="timeout"/> for <paramref name="text"/> to appear on the console.</summary>
    public async Task<bool> WaitForConsoleAsync(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Console.Contains(text))
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(50);
        }

        return true;
    }

    public void Dispose()
    {
        Machine.RequestStop("the test ended");
        Machine.WaitForExit(TimeSpan.FromSeconds(30), out _);
        Machine.Dispose();
        _disk.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
