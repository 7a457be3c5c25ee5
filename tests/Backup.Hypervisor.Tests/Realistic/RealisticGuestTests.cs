using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Backup.Disks.BlockDevices;
using Backup.Disks.Snapshots;
using Backup.Hypervisor.Agent;
using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Snapshots;
using Backup.Hypervisor.Tests.Support;
using Backup.TestSupport;
using Xunit.Abstractions;

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
    private readonly ITestOutputHelper _output;

    public RealisticGuestTests(ITestOutputHelper output)
    {
        _output = output;
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Kernel command-line knob: the workload prints every commit, so the host sees each committed seq.</summary>
    private const string EveryCommit = " workload.report_every=1";

    /// <summary>Part of the console shell's prompt (root@dbserver:~# ).</summary>
    private const string Prompt = "root@dbserver:";

    [GeneratedRegex(@"workload: committed seq (\d+)")]
    private static partial Regex Committed();

    private VirtualMachine Boot(IBlockDevice root, IBlockDevice data, ConsoleCapture console, string knobs = "") => new(new VmConfiguration
    {
        KernelPath = RealisticGuest.KernelPath,
        MemorySize = 128UL << 20,
        CommandLine = _guest.CommandLine + knobs,
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

    private static async Task WaitUntilAsync(ConsoleCapture console, Func<bool> condition, string what, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{what} did not happen within {timeout.TotalSeconds} s\n--- console ---\n{console.Text}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>
    /// Types <paramref name="command"/> into the console's login shell and waits for <paramref name="expect"/> in what
    /// the console shows afterwards. Expected text should be computed by the shell (e.g. <c>$((6*7))</c>), so that the
    /// terminal's echo of the typed line cannot satisfy it.
    /// </summary>
    private static async Task<Match> ShellAsync(VirtualMachine vm, ConsoleCapture console, string command, Regex expect, TimeSpan timeout)
    {
        int from = console.Text.Length;
        vm.SendConsoleInput(Encoding.ASCII.GetBytes(command + "\n"));
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var match = expect.Match(console.Text, from);
            if (match.Success)
            {
                return match;
            }

            if (DateTime.UtcNow > deadline || vm.WaitForExit(TimeSpan.Zero, out _))
            {
                throw new TimeoutException($"the shell did not answer '{command}' with /{expect}/\n--- console ---\n{console.Text}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>Every committed sequence number the workload printed, in the order printed.</summary>
    private static List<long> CommittedSeqs(string text) =>
        [.. Committed().Matches(text).Select(m => long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture))];

    private static long LastCommitted(ConsoleCapture console) => CommittedSeqs(console.Text).DefaultIfEmpty(0).Max();

    /// <summary>Writes a disk snapshot's contents into a new raw image file.</summary>
    private static void Materialize(DiskSnapshot snapshot, string target)
    {
        using var copy = RawFileDisk.Create(target, snapshot.Length);
        var buffer = new byte[1 << 20];
        for (long offset = 0; offset < copy.Length; offset += buffer.Length)
        {
            int n = (int)Math.Min(buffer.Length, copy.Length - offset);
            snapshot.Read(offset, buffer.AsSpan(0, n));
            copy.Write(offset, buffer.AsSpan(0, n));
        }
    }

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
        List<long> seen;
        using (var root = RawFileDisk.Open(rootPath))
        using (var data = RawFileDisk.Open(dataPath))
        {
            var console = new ConsoleCapture();
            using var vm = Boot(root, data, console, EveryCommit);
            vm.Start();
            await WaitForAsync(console, vm, "guest: ready", TimeSpan.FromMinutes(2));
            long first = LastCommitted(console);
            await WaitUntilAsync(console, () => LastCommitted(console) >= first + 30, "30 commits", TimeSpan.FromMinutes(2));
            vm.RequestStop("hard stop: no clean shutdown"); // the power is cut mid-transaction
            vm.WaitForExit();
            seen = CommittedSeqs(console.Text);
        }

        // Every commit was reported (workload.report_every=1), not only every tenth.
        long lastSeen = seen.Max();
        Assert.True(seen.Distinct().Count() >= 30, $"the host saw only {seen.Distinct().Count()} commits: [{string.Join(' ', seen)}]");

        using (var root = RawFileDisk.Open(rootPath))
        using (var data = RawFileDisk.Open(dataPath))
        {
            var console = new ConsoleCapture();
            using var vm = Boot(root, data, console, EveryCommit);
            vm.Start();
            await WaitForAsync(console, vm, "guest: ready", TimeSpan.FromMinutes(2));

            // The data disk's journal, not only the root's, was replayed.
            Assert.Matches(@"EXT4-fs \(vdb\): recovery complete", console.Text);

            // The workload's first commit on this boot is max(seq)+1 of the recovered database: had the tail of the
            // committed rows been lost, it would re-insert one of them (same deterministic payload) and hide the loss.
            long firstAfterReboot = CommittedSeqs(console.Text)[0];
            Assert.True(firstAfterReboot > lastSeen,
                $"the host saw seq {lastSeen} committed before the stop, but the recovered database ended at {firstAfterReboot - 1}\n{console.Text}");

            await vm.Agent!.WaitUntilReadyAsync(AgentTimeout);
            var check = await vm.Agent.CheckAsync("db", AgentTimeout);
            Assert.Equal("ok", check.Integrity);
            Assert.Equal(0, check.BadChecksums);
            Assert.Equal(check.MaxSequence, check.Count); // no gaps
            Assert.True(check.MaxSequence >= firstAfterReboot, check.Raw);

            // Every sequence number seen committed is a row (seq is the primary key: count = number of distinct seqs).
            await WaitForAsync(console, vm, Prompt, TimeSpan.FromMinutes(1));
            var have = await ShellAsync(vm, console,
                $"sqlite3 /data/app.db \"select 'have',count(*) from rows where seq between 1 and {lastSeen}\"",
                new Regex(@"have\|(\d+)"), TimeSpan.FromMinutes(1));
            Assert.Equal(lastSeen, long.Parse(have.Groups[1].Value, CultureInfo.InvariantCulture));
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
            using var vm = Boot(root, data, console);
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
                Materialize(lastDisks[d]!, Path.Combine(_dir, $"resume{d}.img"));
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

    [Fact]
    public async Task The_console_has_a_login_shell_and_the_guest_rows_match_the_host_row_definition()
    {
        var (rootPath, dataPath) = _guest.CopyDisks(_dir);
        using var root = RawFileDisk.Open(rootPath);
        using var data = RawFileDisk.Open(dataPath);
        var console = new ConsoleCapture();
        using var vm = Boot(root, data, console);
        vm.Start();
        await WaitForAsync(console, vm, "guest: ready", TimeSpan.FromMinutes(2));
        await WaitForAsync(console, vm, Prompt, TimeSpan.FromMinutes(1));

        // The shell computes 42 and lists /data: neither is in the echo of the typed line.
        var listing = await ShellAsync(vm, console, "echo marker-$((6*7)); ls -a /data; echo end-$((2*3))",
            new Regex(@"marker-42\r?\n(.*?)end-6", RegexOptions.Singleline), TimeSpan.FromMinutes(1));
        Assert.Contains("app.db", listing.Groups[1].Value, StringComparison.Ordinal);
        Assert.Contains("lost+found", listing.Groups[1].Value, StringComparison.Ordinal);

        // The guest's rows (written by rowdef.h's C) against the host's independent implementation of the definition.
        await vm.Agent!.WaitUntilReadyAsync(AgentTimeout);
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while ((await vm.Agent.CheckAsync("db", AgentTimeout)).MaxSequence < 3)
        {
            Assert.True(DateTime.UtcNow < deadline, $"fewer than 3 rows after a minute\n{console.Text}");
            await Task.Delay(200);
        }

        var done = await ShellAsync(vm, console,
            "sqlite3 /data/app.db \"select 'row',seq,hex(payload),checksum from rows where seq<=3 order by seq\"; echo rows-$((1+2))",
            new Regex(@"rows-3\r?\n"), TimeSpan.FromMinutes(1));
        var rows = new Regex(@"row\|(\d+)\|([0-9A-F]+)\|(-?\d+)").Matches(console.Text[..done.Index]).TakeLast(3).ToList();
        Assert.Equal([1L, 2L, 3L], rows.Select(r => long.Parse(r.Groups[1].Value, CultureInfo.InvariantCulture)));
        foreach (var row in rows)
        {
            long seq = long.Parse(row.Groups[1].Value, CultureInfo.InvariantCulture);
            byte[] payload = Convert.FromHexString(row.Groups[2].Value);
            Assert.Equal(WorkloadRow.Payload(seq), payload);
            Assert.Equal(WorkloadRow.StoredChecksum(seq, payload), long.Parse(row.Groups[3].Value, CultureInfo.InvariantCulture));
        }

        vm.RequestStop();
        vm.WaitForExit();
    }

    [Fact]
    public async Task A_freeze_holds_every_write_to_the_data_disk_until_the_thaw()
    {
        var (rootPath, dataPath) = _guest.CopyDisks(_dir);
        using var root = RawFileDisk.Open(rootPath);
        using var data = RawFileDisk.Open(dataPath);
        var console = new ConsoleCapture();
        using var vm = Boot(root, data, console, EveryCommit + " workload.interval_ms=20");
        vm.Start();
        await WaitForAsync(console, vm, "guest: ready", TimeSpan.FromMinutes(2));
        await WaitForAsync(console, vm, Prompt, TimeSpan.FromMinutes(1));
        await vm.Agent!.WaitUntilReadyAsync(AgentTimeout);

        // The unfrozen pace: the frozen window below is long enough for at least 30 commits at this pace.
        long start = LastCommitted(console);
        var pace = Stopwatch.StartNew();
        await WaitUntilAsync(console, () => LastCommitted(console) >= start + 10, "10 commits", TimeSpan.FromMinutes(1));
        var window = TimeSpan.FromTicks(Math.Clamp(pace.Elapsed.Ticks * 3, TimeSpan.FromSeconds(1.5).Ticks, TimeSpan.FromSeconds(20).Ticks));

        await vm.Agent.FreezeAsync(AgentTimeout);

        // A commit that completed before the freeze may still be on its way to the console: wait until the count
        // has stood still for half a second (a workload that keeps committing every 20 ms never gets there).
        long frozenAt = LastCommitted(console);
        var still = Stopwatch.StartNew();
        var settleLimit = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (still.Elapsed < TimeSpan.FromMilliseconds(500) && DateTime.UtcNow < settleLimit)
        {
            await Task.Delay(50);
            if (LastCommitted(console) != frozenAt)
            {
                frozenAt = LastCommitted(console);
                still.Restart();
            }
        }

        int probeFrom = console.Text.Length;
        vm.SendConsoleInput("touch /data/written-while-frozen; echo probe-$((6*7))-written\n"u8);
        await Task.Delay(window);
        Assert.True(LastCommitted(console) == frozenAt,
            $"the workload committed seq {LastCommitted(console)} while /data was frozen at {frozenAt}\n{console.Text}");
        Assert.DoesNotContain("probe-42-written", console.Text[probeFrom..], StringComparison.Ordinal); // the write blocks
        var refused = await Assert.ThrowsAsync<GuestAgentException>(() => vm.Agent.CheckAsync("db", AgentTimeout));
        Assert.Contains("frozen", refused.Message, StringComparison.Ordinal);

        await vm.Agent.ThawAsync(AgentTimeout);
        await WaitForAsync(console, vm, "probe-42-written", TimeSpan.FromSeconds(30)); // the blocked write went through
        await WaitUntilAsync(console, () => LastCommitted(console) > frozenAt, "a commit after the thaw", TimeSpan.FromSeconds(30));
        await ShellAsync(vm, console, "ls /data/written-while-frozen && echo exists-$((1+1))", new Regex("exists-2"), TimeSpan.FromSeconds(30));
        var check = await vm.Agent.CheckAsync("db", AgentTimeout);
        Assert.True(check.Healthy, check.Raw);
        vm.RequestStop();
        vm.WaitForExit();
    }

    [Fact]
    public async Task A_checkpoint_taken_during_boot_resumes_into_a_server_that_comes_up_healthy()
    {
        const ulong Step = 2_000_000; // instructions between two cuts
        var (rootPath, dataPath) = _guest.CopyDisks(_dir);
        var cuts = new List<(string Path, DiskSnapshot?[] Disks, string Console, ulong Instructions)>();
        int chosen;
        using (var rootRaw = RawFileDisk.Open(rootPath))
        using (var dataRaw = RawFileDisk.Open(dataPath))
        using (var root = TrackedDisk.Open(rootRaw, new TrackedDiskOptions { ImagePath = rootPath }))
        using (var data = TrackedDisk.Open(dataRaw, new TrackedDiskOptions { ImagePath = dataPath }))
        {
            // The machine runs on this thread in steps, cut after each step, until the server is up.
            var console = new ConsoleCapture();
            using var vm = Boot(root, data, console);
            try
            {
                while (true)
                {
                    var exit = vm.RunUntil(vm.Clock.RetiredInstructions + Step);
                    Assert.True(exit is { Kind: VmExitKind.Stopped, ExitCode: 124 }, $"{exit.Message}\n{console.Text}");
                    if (console.Contains("guest: ready"))
                    {
                        break;
                    }

                    Assert.True(cuts.Count < 2000, $"no 'guest: ready' after {cuts.Count} steps\n{console.Text}");
                    var cut = vm.Checkpoint(Path.Combine(_dir, $"boot{cuts.Count}.vmstate"));
                    await cut.Completion.WaitAsync(TimeSpan.FromMinutes(1));
                    cuts.Add((cut.Path, [.. cut.Disks], console.Text, vm.Clock.RetiredInstructions));
                }

                // A cut in the middle of the boot: the kernel is running, the server not yet up.
                var booting = Enumerable.Range(0, cuts.Count).Where(i => cuts[i].Console.Contains("Linux version", StringComparison.Ordinal)).ToList();
                Assert.True(booting.Count >= 3, $"only {booting.Count} cuts during the boot");
                chosen = booting[booting.Count / 2];
                string[] lines = cuts[chosen].Console.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                _output.WriteLine($"{cuts.Count} cuts before 'guest: ready' ({booting.Count} after the kernel's first line); resuming cut {chosen}, " +
                    $"taken after {cuts[chosen].Instructions:N0} instructions, console's last line then: {lines[^1]}");
                Materialize(cuts[chosen].Disks[0]!, Path.Combine(_dir, "boot-root.img"));
                Materialize(cuts[chosen].Disks[1]!, Path.Combine(_dir, "boot-data.img"));
            }
            finally
            {
                foreach (var snapshot in cuts.SelectMany(c => c.Disks))
                {
                    snapshot?.Dispose();
                }
            }
        }

        Assert.DoesNotContain("guest: ready", cuts[chosen].Console, StringComparison.Ordinal);
        using var resumedRoot = RawFileDisk.Open(Path.Combine(_dir, "boot-root.img"));
        using var resumedData = RawFileDisk.Open(Path.Combine(_dir, "boot-data.img"));
        var resumedConsole = new ConsoleCapture();
        using var resumed = VirtualMachine.Restore(new VmConfiguration
        {
            KernelPath = RealisticGuest.KernelPath,
            MemorySize = 128UL << 20,
            CommandLine = _guest.CommandLine,
            Disks = [resumedRoot, resumedData],
            AgentChannel = true,
        }, [.. cuts.Take(chosen + 1).Select(c => c.Path)], resumedConsole.Write);
        resumed.Start();
        await WaitForAsync(resumedConsole, resumed, "guest: ready", TimeSpan.FromMinutes(2));
        Assert.DoesNotContain("Linux version", resumedConsole.Text, StringComparison.Ordinal); // resumed, not rebooted
        await resumed.Agent!.WaitUntilReadyAsync(AgentTimeout);
        var check = await resumed.Agent.CheckAsync("db", AgentTimeout);
        Assert.True(check.Healthy, check.Raw);
        Assert.True(check.MaxSequence >= 1, check.Raw);
        resumed.RequestStop();
        resumed.WaitForExit();
    }
}
