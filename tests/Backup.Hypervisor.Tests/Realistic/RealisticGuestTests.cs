using System.Text.RegularExpressions;
using Backup.Disks.BlockDevices;
using Backup.Disks.Snapshots;
using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Snapshots;
using Backup.Hypervisor.Tests.Support;
using Backup.TestSupport;

namespace Backup.Hypervisor.Tests.Realistic;

/// <summary>
/// The realistic guest (ext4 root and data disks, busybox, a SQLite workload, the guest agent) on the appliance's
/// hypervisor: it serves, its agent answers, and a hard stop loses no committed transaction.
/// </summary>
public sealed partial class RealisticGuestTests : IDisposable
{
    private static readonly TimeSpan AgentTimeout = TimeSpan.FromSeconds(20);
    private readonly string _dir = Directory.CreateTempSubdirectory("realistic-").FullName;
    private readonly RealisticGuest _guest = RealisticGuest.Locate();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [GeneratedRegex(@"workload: committed seq (\d+)")]
    private static partial Regex Committed();

    private VirtualMachine Boot(RawFileDisk root, RawFileDisk data, ConsoleCapture console) => new(new VmConfiguration
    {
        KernelPath = RealisticGuest.KernelPath,
        MemorySize = 128UL << 20,
        CommandLine = _guest.CommandLine,
        Disks = [root, data],
        AgentChannel = true,
    }, console.Write);

    private static async Task WaitForAsync(ConsoleCapture console, VirtualMachine vm, string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!console.Contains(text))
        {
            if (DateTime.UtcNow > deadline || vm.WaitForExit(TimeSpan.Zero, out _))
            {
                throw new TimeoutException($"'{text}' did not appear\n--- console ---\n{console.Text}");
            }

            await Task.Delay(100);
        }
    }

    private static long LastCommitted(ConsoleCapture console) =>
        Committed().Matches(console.Text).Select(m => long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).DefaultIfEmpty(0).Max();

    [Fact]
    public async Task The_server_boots_serves_and_its_agent_answers()
    {
        var (rootPath, dataPath) = _guest.CopyDisks(_dir);
        using var root = RawFileDisk.Open(rootPath);
        using var data = RawFileDisk.Open(dataPath);
        var console = new ConsoleCapture();
        using var vm = Boot(root, data, console);
        vm.Start();
        await WaitForAsync(console, vm, "guest: ready", TimeSpan.FromMinutes(2));
        await vm.Agent!.WaitUntilReadyAsync(AgentTimeout);
        await vm.Agent.PingAsync(AgentTimeout);
        Assert.True(await vm.Agent.UptimeAsync(AgentTimeout) > TimeSpan.Zero);

        var check = await vm.Agent.CheckAsync("db", AgentTimeout);
        Assert.True(check.Healthy, check.Raw);
        Assert.True(check.MaxSequence >= 1, check.Raw);

        await vm.Agent.FreezeAsync(AgentTimeout);
        await vm.Agent.ThawAsync(AgentTimeout);
        var cut = await vm.CheckpointApplicationConsistentAsync(Path.Combine(_dir, "ac.vmstate"), incremental: true, AgentTimeout);
        await cut.Completion;
        Assert.Equal(CheckpointConsistency.ApplicationConsistent, cut.Consistency);
        Assert.Null(cut.ConsistencyNote);

        vm.RequestStop();
        vm.WaitForExit();
    }

    [Fact]
    public async Task After_a_hard_stop_the_journal_replays_and_every_committed_row_is_there()
    {
        var (rootPath, dataPath) = _guest.CopyDisks(_dir);
        long committed;
        using (var root = RawFileDisk.Open(rootPath))
        using (var data = RawFileDisk.Open(dataPath))
        {
            var console = new ConsoleCapture();
            using var vm = Boot(root, data, console);
            vm.Start();
            await WaitForAsync(console, vm, "guest: ready", TimeSpan.FromMinutes(2));
            long first = LastCommitted(console);
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
            while (LastCommitted(console) < first + 30 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100); // let the workload commit a few dozen transactions
            }

            Assert.True(LastCommitted(console) >= first + 30, $"the workload stalled at seq {LastCommitted(console)}\n{console.Text}");
            vm.RequestStop("hard stop: no clean shutdown"); // the power is cut mid-transaction
            vm.WaitForExit();
            committed = LastCommitted(console);
        }

        using (var root = RawFileDisk.Open(rootPath))
        using (var data = RawFileDisk.Open(dataPath))
        {
            var console = new ConsoleCapture();
            using var vm = Boot(root, data, console);
            vm.Start();
            await WaitForAsync(console, vm, "guest: ready", TimeSpan.FromMinutes(2));
            Assert.Matches("EXT4-fs \\(vd[ab]\\): recovery complete", console.Text);
            await vm.Agent!.WaitUntilReadyAsync(AgentTimeout);
            var check = await vm.Agent.CheckAsync("db", AgentTimeout);
            Assert.Equal("ok", check.Integrity);
            Assert.Equal(0, check.BadChecksums);
            Assert.True(check.MaxSequence >= committed, $"committed {committed} before the stop, database has {check.Raw}");
            Assert.Equal(check.MaxSequence, check.Count);
            vm.RequestStop();
            vm.WaitForExit();
        }
    }

    [Fact]
    public async Task Checkpoints_taken_while_the_database_writes_resume_into_a_healthy_server()
    {
        var (rootPath, dataPath) = _guest.CopyDisks(_dir);
        var chain = new List<string>();
        DiskSnapshot?[] lastDisks = [];
        long committedAtLastCut;
        using (var rootRaw = RawFileDisk.Open(rootPath))
        using (var dataRaw = RawFileDisk.Open(dataPath))
        using (var root = TrackedDisk.Open(rootRaw, new TrackedDiskOptions { ImagePath = rootPath }))
        using (var data = TrackedDisk.Open(dataRaw, new TrackedDiskOptions { ImagePath = dataPath }))
        {
            var console = new ConsoleCapture();
            using var vm = new VirtualMachine(new VmConfiguration
            {
                KernelPath = RealisticGuest.KernelPath,
                MemorySize = 128UL << 20,
                CommandLine = _guest.CommandLine,
                Disks = [root, data],
                AgentChannel = true,
            }, console.Write);
            vm.Start();
            await WaitForAsync(console, vm, "guest: ready", TimeSpan.FromMinutes(2));
            committedAtLastCut = 0;
            for (int i = 0; i < 8; i++)
            {
                await Task.Delay(250);
                long committed = LastCommitted(console);
                var cut = vm.Checkpoint(Path.Combine(_dir, $"cut{i}.vmstate"));
                await cut.Completion.WaitAsync(TimeSpan.FromMinutes(1));
                chain.Add(cut.Path);
                foreach (var old in lastDisks)
                {
                    old?.Dispose();
                }

                lastDisks = [.. cut.Disks];
                committedAtLastCut = committed;
            }

            // The running server is unharmed by the cuts.
            await vm.Agent!.WaitUntilReadyAsync(AgentTimeout);
            var live = await vm.Agent.CheckAsync("db", AgentTimeout);
            Assert.True(live.Healthy, live.Raw);

            // Materialise the disks as they were at the last cut.
            for (int d = 0; d < 2; d++)
            {
                string target = Path.Combine(_dir, $"resume{d}.img");
                using var copy = RawFileDisk.Create(target, lastDisks[d]!.Length);
                var buffer = new byte[1 << 20];
                for (long offset = 0; offset < copy.Length; offset += buffer.Length)
                {
                    lastDisks[d]!.Read(offset, buffer.AsSpan(0, (int)Math.Min(buffer.Length, copy.Length - offset)));
                    copy.Write(offset, buffer.AsSpan(0, (int)Math.Min(buffer.Length, copy.Length - offset)));
                }

                lastDisks[d]!.Dispose();
            }

            vm.RequestStop();
            vm.WaitForExit();
        }

        using var resumedRoot = RawFileDisk.Open(Path.Combine(_dir, "resume0.img"));
        using var resumedData = RawFileDisk.Open(Path.Combine(_dir, "resume1.img"));
        var resumedConsole = new ConsoleCapture();
        using var resumed = VirtualMachine.Restore(new VmConfiguration
        {
            KernelPath = RealisticGuest.KernelPath,
            MemorySize = 128UL << 20,
            CommandLine = _guest.CommandLine,
            Disks = [resumedRoot, resumedData],
            AgentChannel = true,
        }, chain, resumedConsole.Write);
        resumed.Start();
        await resumed.Agent!.WaitUntilReadyAsync(AgentTimeout);
        var check = await resumed.Agent.CheckAsync("db", AgentTimeout);
        Assert.True(check.Healthy, check.Raw);
        Assert.True(check.MaxSequence >= committedAtLastCut, $"{committedAtLastCut} committed before the last cut; resumed database: {check.Raw}");
        Assert.DoesNotContain("Linux version", resumedConsole.Text, StringComparison.Ordinal); // resumed, not rebooted
        resumed.RequestStop();
        resumed.WaitForExit();
    }
}
