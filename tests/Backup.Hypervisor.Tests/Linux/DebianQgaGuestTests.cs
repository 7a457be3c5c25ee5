using System.Diagnostics;
using Backup.Hypervisor.Agent;
using Backup.Hypervisor.Snapshots;
using Backup.TestSupport;
using Xunit.Abstractions;

namespace Backup.Hypervisor.Tests.Linux;

/// <summary>
/// Debian's real qemu-ga (package qemu-guest-agent, unpacked with its libraries by appliance/guest/debian-qga/build)
/// on the stock Debian kernel on our core, talking over our virtio-serial port org.qemu.guest_agent.0: the commands
/// the appliance uses, Debian's fsfreeze hook running its hook.d script around a real FIFREEZE of the ext4 /data,
/// an application-consistent checkpoint through it, and the fallbacks when the agent answers garbage or is killed.
/// </summary>
[Collection(SoloGroup.Name)]
public sealed class DebianQgaGuestTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    [DebianQgaFact]
    public async Task Real_qemu_ga_answers_ping_osinfo_exec_interfaces_freezes_with_its_hooks_and_gives_an_application_consistent_checkpoint()
    {
        var stopwatch = Stopwatch.StartNew();
        using var run = await QgaGuestRun.StartAsync(DebianQgaGuest.TryLocate(out _)!);
        output.WriteLine($"qemu-ga answered guest-ping {stopwatch.Elapsed.TotalSeconds:F1} s after the VM was created");
        var agent = run.Agent;

        var info = await agent.GetInfoAsync(Timeout);
        output.WriteLine($"qemu-ga {info.Version}, {info.Commands.Count} commands");
        Assert.True(info.Supports("guest-fsfreeze-freeze") && info.Supports("guest-exec"), string.Join(' ', info.Commands.Keys));

        var os = await agent.GetOsInfoAsync(Timeout);
        Assert.Equal("debian", os.Id);
        Assert.Contains("Debian", os.PrettyName, StringComparison.Ordinal);
        Assert.Equal("riscv64", os.Machine);
        Assert.StartsWith("6.12", os.KernelRelease, StringComparison.Ordinal);

        var echo = await agent.RunAsync("/bin/busybox", ["echo", "hi"], null, Timeout);
        Assert.Equal((true, 0, "hi\n"), (echo.Exited, echo.ExitCode, echo.OutputText));
        var cat = await agent.RunAsync("/bin/busybox", ["sh", "-c", "cat; cat /data/from-host.txt; exit 3"], "from stdin "u8.ToArray(), Timeout);
        Assert.Equal((3, "from stdin hello\n"), (cat.ExitCode, cat.OutputText));

        var interfaces = await agent.GetNetworkInterfacesAsync(Timeout);
        var lo = Assert.Single(interfaces, i => i.Name == "lo");
        Assert.Contains(lo.Addresses, a => a.Type == "ipv4" && a.Address == "127.0.0.1" && a.Prefix == 8);

        Assert.Equal(QgaFreezeStatus.Thawed, await agent.GetFreezeStatusAsync(Timeout));
        Assert.Equal(1, await agent.FreezeAsync(Timeout)); // /data (ext4 on vda): the initramfs and tmpfs are not frozen
        Assert.Equal(QgaFreezeStatus.Frozen, await agent.GetFreezeStatusAsync(Timeout));
        Assert.True(await run.WaitForConsoleAsync($"{DebianQgaGuest.HookMarker} freeze", Timeout), run.Console.Text);
        Assert.False(run.Console.Contains($"{DebianQgaGuest.HookMarker} thaw"));
        Assert.Equal(1, await agent.ThawAsync(Timeout));
        Assert.Equal(QgaFreezeStatus.Thawed, await agent.GetFreezeStatusAsync(Timeout));
        Assert.True(await run.WaitForConsoleAsync($"{DebianQgaGuest.HookMarker} thaw", Timeout), run.Console.Text);
        var write = await agent.RunAsync("/bin/busybox", ["sh", "-c", "echo after-thaw > /data/after.txt && sync && cat /data/after.txt"], null, Timeout);
        Assert.Equal("after-thaw\n", write.OutputText);

        var cut = await run.Machine.CheckpointApplicationConsistentAsync(Path.Combine(run.Directory, "ac.vmstate"), incremental: false, Timeout);
        await cut.Completion;
        output.WriteLine($"application-consistent cut: stun {cut.StunTime.TotalMilliseconds:F1} ms, note: {cut.ConsistencyNote ?? "(none)"}");
        Assert.Equal(CheckpointConsistency.ApplicationConsistent, cut.Consistency);
        Assert.Null(cut.ConsistencyNote);
        Assert.True(await run.WaitForConsoleAsync($"{DebianQgaGuest.HookMarker} thaw", Timeout));
        Assert.Equal(2, run.Console.Text.Split($"{DebianQgaGuest.HookMarker} freeze").Length - 1);
        Assert.Equal(2, run.Console.Text.Split($"{DebianQgaGuest.HookMarker} thaw").Length - 1);
        Assert.Equal(QgaFreezeStatus.Thawed, await agent.GetFreezeStatusAsync(Timeout));
        Assert.Equal(0, run.Machine.Serial!.ProtocolErrors);
    }

    /// <summary>
    /// qemu-ga is replaced, through its own guest-exec, by a shell "agent" that answers guest-sync-delimited properly
    /// and everything else with a line that is not JSON, for four requests, then exits: the checkpoint falls back to
    /// crash-consistent saying the answer was not JSON. Then nothing serves the port (qemu-ga was killed): the next one
    /// falls back saying the agent did not answer.
    /// </summary>
    [DebianQgaFact]
    public async Task Garbage_answers_and_a_killed_qemu_ga_fall_back_to_crash_consistent_with_the_reason()
    {
        using var run = await QgaGuestRun.StartAsync(DebianQgaGuest.TryLocate(out _)!);
        const string fake = """
            sleep 0.3; kill $(pidof qemu-ga); sleep 1
            exec 3<>/dev/virtio-ports/org.qemu.guest_agent.0 || exit 1
            echo "debian-qga: fake agent on the port" > /dev/console
            n=0
            while [ $n -lt 4 ] && read -r line <&3; do
                n=$((n + 1))
                case "$line" in
                    *guest-sync-delimited*) id=$(echo "$line" | sed 's/.*"id":\([0-9]*\).*/\1/'); printf '\377{"return": %s}\n' "$id" >&3 ;;
                    *) echo 'this is not JSON' >&3 ;;
                esac
            done
            echo "debian-qga: fake agent done" > /dev/console
            """;
        await run.Agent.ExecAsync("/bin/busybox", ["sh", "-c", fake], null, captureOutput: false, Timeout);
        Assert.True(await run.WaitForConsoleAsync(DebianQgaGuest.AgentExitedMarker, Timeout), run.Console.Text);
        Assert.True(await run.WaitForConsoleAsync("debian-qga: fake agent on the port", Timeout), run.Console.Text);

        var garbage = await run.Machine.CheckpointApplicationConsistentAsync(Path.Combine(run.Directory, "garbage.vmstate"), incremental: false, TimeSpan.FromSeconds(5));
        await garbage.Completion;
        output.WriteLine($"garbage: {garbage.ConsistencyNote}");
        Assert.Equal(CheckpointConsistency.CrashConsistent, garbage.Consistency);
        Assert.Contains("guest-fsfreeze-freeze", garbage.ConsistencyNote, StringComparison.Ordinal);
        Assert.Contains("not JSON", garbage.ConsistencyNote, StringComparison.Ordinal);
        Assert.True(await run.WaitForConsoleAsync("debian-qga: fake agent done", Timeout), run.Console.Text);
        Assert.Contains(run.Log, l => l.Contains("guest-fsfreeze-thaw", StringComparison.Ordinal)); // the thaw was tried, and failed the same way

        var hung = await run.Machine.CheckpointApplicationConsistentAsync(Path.Combine(run.Directory, "killed.vmstate"), incremental: false, TimeSpan.FromSeconds(2));
        await hung.Completion;
        output.WriteLine($"killed: {hung.ConsistencyNote}");
        Assert.Equal(CheckpointConsistency.CrashConsistent, hung.Consistency);
        Assert.Contains("guest-sync-delimited", hung.ConsistencyNote, StringComparison.Ordinal);
        Assert.Contains("no answer within 2 s", hung.ConsistencyNote, StringComparison.Ordinal);
        Assert.False(run.Machine.Serial!.Ports[0].GuestConnected); // the guest closed the port when the fake agent exited
    }
}
