using Backup.Disks.BlockDevices;
using Backup.Disks.Snapshots;
using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Snapshots;
using Backup.Hypervisor.Tests.Support;
using Backup.Hypervisor.Timing;
using Backup.TestSupport;

namespace Backup.Hypervisor.Tests.Snapshots;

/// <summary>Checkpoints of the real Linux guest: bit-exact resume, many cuts while it runs, bad state files refused.</summary>
public sealed class CheckpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("checkpoint-tests-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static VmConfiguration Config(IBlockDevice disk, ClockMode clock = ClockMode.Deterministic) => new()
    {
        KernelPath = GuestImage.KernelPath,
        MemorySize = 64UL << 20,
        CommandLine = "console=ttyS0 guest.heartbeat=1 guest.poweroff=2",
        Disks = [disk],
        Clock = clock,
    };

    [Fact]
    public Task Run_n_checkpoint_run_m_equals_restore_run_m_bit_for_bit() =>
        AssertRestoreRunsOnBitForBit("one", cpus: 1, m: 40_000_000, (vm, _) =>
        {
            const ulong n = 12_000_000;
            Assert.Equal(VmExitKind.Stopped, vm.RunUntil(n).Kind);
            return n;
        }, cut => Assert.Equal(Guid.Empty, cut.ParentId));

    [Fact]
    public Task Two_harts_run_n_checkpoint_run_m_equals_restore_run_m_bit_for_bit() =>
        AssertRestoreRunsOnBitForBit("two", cpus: 2, m: 60_000_000, (vm, console) =>
        {
            // The cut falls once Linux has brought the second hart up, so both harts' states matter.
            ulong n;
            for (n = 2_000_000; !console.Text.Contains("smp: Brought up 1 node, 2 CPUs", StringComparison.Ordinal); n += 500_000)
            {
                Assert.True(n < 400_000_000, $"the second hart never came up\n{console.Text}");
                Assert.Equal(VmExitKind.Stopped, vm.RunUntil(n).Kind);
            }

            Assert.All(vm.Harts, hart => Assert.NotEqual(Backup.Hypervisor.Cpu.HartState.Stopped, hart.State));
            Assert.All(vm.Harts, hart => Assert.True(hart.Instret > 0));
            return n;
        }, cut => Assert.Equal(2, cut.Header.HartCount));

    /// <summary>
    /// Runs the Linux guest (deterministic clock) to the cut <paramref name="runToCut"/> chooses (it returns the
    /// instruction count reached), checkpoints, runs <paramref name="m"/> more instructions; then restores the cut with
    /// the disk as it was and runs the same <paramref name="m"/>: exit, console after the cut, state digest and disk
    /// must be equal, and the guest must have written its disk after the cut.
    /// </summary>
    private async Task AssertRestoreRunsOnBitForBit(string name, int cpus, ulong m, Func<VirtualMachine, ConsoleCapture, ulong> runToCut, Action<VmCheckpoint> checkCut)
    {
        string diskA = Path.Combine(_dir, $"{name}-a.img"), diskB = Path.Combine(_dir, $"{name}-b.img"), state = Path.Combine(_dir, $"{name}.vmstate");
        RawFileDisk.Create(diskA, 16L << 20).Dispose();

        byte[] digestA;
        string afterCutA;
        VmExit exitA;
        ulong n;
        using (var disk = RawFileDisk.Open(diskA))
        {
            var console = new ConsoleCapture();
            using var vm = new VirtualMachine(Config(disk) with { CpuCount = cpus }, console.Write);
            n = runToCut(vm, console);
            var cut = vm.Checkpoint(state);
            checkCut(cut);
            await cut.Completion.WaitAsync(TimeSpan.FromMinutes(1));
            disk.Flush();
            File.Copy(diskA, diskB);
            int mark = console.Text.Length;
            exitA = vm.RunUntil(n + m);
            afterCutA = console.Text[mark..];
            digestA = vm.DigestState();
        }

        using (var disk = RawFileDisk.Open(diskB))
        {
            var console = new ConsoleCapture();
            using var vm = VirtualMachine.Restore(Config(disk) with { CpuCount = cpus }, [state], console.Write);
            var exitB = vm.RunUntil(n + m);
            Assert.Equal(exitA, exitB);
            Assert.Equal(afterCutA, console.Text);
            Assert.Equal(digestA, vm.DigestState());
        }

        Assert.True(afterCutA.Contains("guest: disk write ok", StringComparison.Ordinal), $"{exitA}\n{afterCutA}"); // the disk was written after the cut
        Assert.Equal(File.ReadAllBytes(diskA), File.ReadAllBytes(diskB));
    }

    [Fact]
    public async Task Linux_keeps_running_across_many_checkpoints_and_the_chain_restores_with_its_disk_snapshot()
    {
        string diskPath = Path.Combine(_dir, "live.img"), restoredPath = Path.Combine(_dir, "restored.img");
        RawFileDisk.Create(diskPath, 16L << 20).Dispose();
        var chain = new List<string>();
        bool lastCutAfterReady = false;
        using (var raw = RawFileDisk.Open(diskPath))
        using (var disk = TrackedDisk.Open(raw, new TrackedDiskOptions { ImagePath = diskPath }))
        {
            var console = new ConsoleCapture();
            var config = Config(disk, ClockMode.RealTime) with { CommandLine = "console=ttyS0 guest.heartbeat=1 guest.poweroff=3" };
            using var vm = new VirtualMachine(config, console.Write);
            vm.Start();
            DiskSnapshot? last = null;
            // Cuts every 150 ms from power-on until at least 3 were taken and one came after "guest: ready" (a loaded
            // host boots slowly): a chain whose every cut precedes the kernel's console would replay the kernel's log
            // buffer on resume and prove nothing about continuing rather than rebooting.
            for (int i = 0; i < 60 && !(chain.Count >= 3 && lastCutAfterReady) && !vm.WaitForExit(TimeSpan.FromMilliseconds(150), out _); i++)
            {
                lastCutAfterReady = console.Text.Contains("guest: ready", StringComparison.Ordinal);
                string path = Path.Combine(_dir, $"cut{i}.vmstate");
                var cut = vm.Checkpoint(path);
                await cut.Completion.WaitAsync(TimeSpan.FromMinutes(1));
                Assert.Equal(i == 0 ? Guid.Empty : VmStateFile.ReadHeader(chain[^1]).Id, cut.ParentId);
                chain.Add(path);
                last?.Dispose();
                last = cut.Disks[0];
                Assert.NotNull(last);
            }

            var exit = vm.WaitForExit();
            Assert.True(exit.Kind == VmExitKind.PowerOff, $"{exit}\n{console.Text}");
            Assert.Contains("guest: disk write ok", console.Text, StringComparison.Ordinal);

            // The disk as it was at the last cut, read from the snapshot after the guest went on.
            using var restored = RawFileDisk.Create(restoredPath, disk.Length);
            var buffer = new byte[1 << 20];
            for (long offset = 0; offset < disk.Length; offset += buffer.Length)
            {
                last!.Read(offset, buffer);
                restored.Write(offset, buffer);
            }

            last!.Dispose();
        }

        Assert.True(chain.Count >= 3, $"only {chain.Count} checkpoints were taken before the guest finished");
        Assert.True(lastCutAfterReady, "no checkpoint was taken after 'guest: ready' before the guest powered off");
        Assert.True(new FileInfo(chain[^1]).Length < new FileInfo(chain[0]).Length); // incrementals carry only dirty pages

        using var restoredDisk = RawFileDisk.Open(restoredPath);
        var restoredConsole = new ConsoleCapture();
        using var resumed = VirtualMachine.Restore(Config(restoredDisk, ClockMode.RealTime), chain, restoredConsole.Write);
        var resumedExit = resumed.Run();
        Assert.True(resumedExit.Kind == VmExitKind.PowerOff, $"{resumedExit}\n{restoredConsole.Text}");
        Assert.DoesNotContain("Linux version", restoredConsole.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Application_consistent_checkpoints_fall_back_to_crash_consistent_with_the_reason()
    {
        string diskPath = Path.Combine(_dir, "ac.img");
        RawFileDisk.Create(diskPath, 16L << 20).Dispose();
        using var disk = RawFileDisk.Open(diskPath);

        // An agent channel with no agent behind it (the tiny guest runs none): the freeze times out.
        using (var vm = new VirtualMachine(Config(disk, ClockMode.RealTime) with { AgentChannel = true, CommandLine = "console=ttyS0" }, _ => { }))
        {
            vm.Start();
            var cut = await vm.CheckpointApplicationConsistentAsync(Path.Combine(_dir, "silent.vmstate"), incremental: true, TimeSpan.FromMilliseconds(300));
            await cut.Completion;
            Assert.Equal(CheckpointConsistency.CrashConsistent, cut.Consistency);
            Assert.Contains("did not answer 'freeze'", cut.ConsistencyNote, StringComparison.Ordinal);
            vm.RequestStop();
            vm.WaitForExit();
        }

        // No agent channel at all.
        using (var vm = new VirtualMachine(Config(disk), _ => { }))
        {
            vm.RunUntil(1_000_000);
            var cut = await vm.CheckpointApplicationConsistentAsync(Path.Combine(_dir, "none.vmstate"), incremental: true, TimeSpan.FromMilliseconds(300));
            await cut.Completion;
            Assert.Equal(CheckpointConsistency.CrashConsistent, cut.Consistency);
            Assert.Contains("no guest-agent channel", cut.ConsistencyNote, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Damaged_truncated_foreign_and_misordered_state_files_are_refused_with_the_reason()
    {
        string diskPath = Path.Combine(_dir, "d.img");
        RawFileDisk.Create(diskPath, 16L << 20).Dispose();
        using var disk = RawFileDisk.Open(diskPath);
        string full = Path.Combine(_dir, "full.vmstate"), inc = Path.Combine(_dir, "inc.vmstate");
        using (var vm = new VirtualMachine(Config(disk), _ => { }))
        {
            vm.RunUntil(5_000_000);
            await vm.Checkpoint(full).Completion;
            vm.RunUntil(6_000_000);
            await vm.Checkpoint(inc).Completion;
        }

        string Refused(IReadOnlyList<string> chain, VmConfiguration? config = null) =>
            Assert.Throws<VmStateFormatException>(() => VirtualMachine.Restore(config ?? Config(disk), chain, _ => { }).Dispose()).Message;

        byte[] bytes = File.ReadAllBytes(full);
        string flipped = Path.Combine(_dir, "flipped.vmstate");
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(flipped, bytes);
        Assert.Contains("checksum mismatch", Refused([flipped]), StringComparison.Ordinal);

        string truncated = Path.Combine(_dir, "truncated.vmstate");
        File.WriteAllBytes(truncated, File.ReadAllBytes(full)[..^100]);
        Assert.Matches("truncated|checksum", Refused([truncated]));

        string future = Path.Combine(_dir, "future.vmstate");
        bytes = File.ReadAllBytes(full);
        bytes[8] = 99;
        File.WriteAllBytes(future, bytes);
        Assert.Contains("version 99 is not supported", Refused([future]), StringComparison.Ordinal);

        Assert.Contains("starts with a full checkpoint", Refused([inc]), StringComparison.Ordinal);
        Assert.Contains("follows checkpoint", Refused([full, inc, inc]), StringComparison.Ordinal);
        Assert.Contains("128 MiB", Refused([full], Config(disk) with { MemorySize = 128UL << 20 }), StringComparison.Ordinal);
    }
}
