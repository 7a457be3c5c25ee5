using System.Buffers.Binary;
using System.Diagnostics;
using Backup.Disks.BlockDevices;
using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Snapshots;
using Backup.Hypervisor.Tests.Boot;
using Backup.Hypervisor.Timing;

namespace Backup.Hypervisor.Tests.Snapshots;

/// <summary>
/// Guest time across a restore with the real-time clock (the production default): it continues from the time saved
/// in the checkpoint, neither jumping back nor replaying the wall-clock time that passed while no VM ran, and then
/// advances with the host's wall clock (docs/vm-state-format.md, "Guest time across a restore").
/// </summary>
public sealed class RealTimeRestoreTests : IDisposable
{
    private static readonly TimeSpan Gap = TimeSpan.FromMilliseconds(400);

    // Reads the time CSR into s0 forever.
    private const string Program = """
        main:
        1:  rdtime s0
            j 1b
        """;

    private readonly string _dir = Directory.CreateTempSubdirectory("realtime-restore-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [RiscvToolchainFact]
    public async Task Guest_time_continues_from_the_saved_time_then_follows_the_wall_clock()
    {
        string diskPath = Path.Combine(_dir, "disk.img"), state = Path.Combine(_dir, "cut.vmstate");
        BareMetalGuest.CreateDisk(diskPath);
        using var disk = RawFileDisk.Open(diskPath);
        var config = BareMetalGuest.Config(BareMetalGuest.Build(Program), disk) with { Clock = ClockMode.RealTime };
        const int S0 = 8;

        using (var vm = new VirtualMachine(config, _ => { }))
        {
            Assert.Equal(VmExitKind.Stopped, vm.RunUntil(200_000).Kind);
            Assert.NotEqual(0UL, vm.Harts[0].GetRegister(S0));
            await vm.Checkpoint(state).Completion.WaitAsync(TimeSpan.FromMinutes(1));
        }

        ulong saved = SavedTime(state);
        Thread.Sleep(Gap); // wall-clock time in which no VM runs

        long restoreStarted = Stopwatch.GetTimestamp();
        using var restored = VirtualMachine.Restore(config, [state], _ => { });
        ulong atRestore = restored.Clock.Now;
        ulong restoreTicks = Ticks(Stopwatch.GetElapsedTime(restoreStarted));
        Assert.True(atRestore >= saved, $"guest time went back: saved {saved}, {atRestore} after the restore");
        Assert.True(atRestore - saved <= restoreTicks + 1,
            $"guest time jumped by {atRestore - saved} ticks at the restore, which took {restoreTicks} ticks (the {Gap.TotalMilliseconds} ms gap was replayed)");
        Assert.True(atRestore - saved < Ticks(Gap), $"guest time jumped by {atRestore - saved} ticks, the whole gap");

        // The guest itself reads that time, and it advances.
        Assert.Equal(VmExitKind.Stopped, restored.RunUntil(restored.RetiredInstructions + 100_000).Kind);
        ulong firstRead = restored.Harts[0].GetRegister(S0);
        ulong afterFirstRead = restored.Clock.Now;
        Assert.InRange(firstRead, atRestore, afterFirstRead);

        // ... at the wall clock's rate: never faster than the host time around it, never slower than the time inside it.
        long outerStart = Stopwatch.GetTimestamp();
        ulong before = restored.Clock.Now;
        long innerStart = Stopwatch.GetTimestamp();
        Thread.Sleep(200);
        Assert.Equal(VmExitKind.Stopped, restored.RunUntil(restored.RetiredInstructions + 100_000).Kind);
        ulong secondRead = restored.Harts[0].GetRegister(S0);
        TimeSpan inner = Stopwatch.GetElapsedTime(innerStart);
        ulong after = restored.Clock.Now;
        TimeSpan outer = Stopwatch.GetElapsedTime(outerStart);
        Assert.True(secondRead > firstRead, $"guest time did not advance: {firstRead} then {secondRead}");
        Assert.InRange(after - before, Ticks(inner) - 1, Ticks(outer) + 1);
    }

    private static ulong Ticks(TimeSpan span) => (ulong)(span.TotalSeconds * MachineClock.Frequency);

    /// <summary>The guest time recorded in the checkpoint's clock section (mode byte, then the time in ticks).</summary>
    private static ulong SavedTime(string state)
    {
        using var stream = File.OpenRead(state);
        using var reader = new VmStateFile.Reader(stream, state);
        ulong? time = null;
        while (reader.Next(out string? section, out _, out byte[]? payload, out _))
        {
            if (section == "clock")
            {
                Assert.Equal((byte)ClockMode.RealTime, payload![0]);
                time = BinaryPrimitives.ReadUInt64LittleEndian(payload.AsSpan(1));
            }
        }

        return time ?? throw new InvalidOperationException("the checkpoint has no clock section");
    }
}
