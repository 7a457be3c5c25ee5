using Backup.Hypervisor.Cpu;
using Backup.Hypervisor.Memory;
using Backup.Hypervisor.Snapshots;
using Backup.Hypervisor.Tests.Cpu;
using Backup.Hypervisor.Timing;

namespace Backup.Hypervisor.Tests.Translation;

/// <summary>
/// A bare machine (4 MiB RAM at 0x80000000, a recording MMIO device, deterministic clock, one M-mode hart) loaded
/// with a <see cref="RandomProgram"/>, in either execution mode.
/// </summary>
internal sealed class DifferentialMachine : IDisposable
{
    public DifferentialMachine(RandomProgram program, int seed, int? hotThreshold)
    {
        Ram = new GuestRam(RandomProgram.CodeBase, 4UL << 20);
        Ram.Write(RandomProgram.CodeBase, program.Code);
        Ram.Write(RandomProgram.Handler, program.HandlerCode);
        var data = new byte[4096];
        new Random(seed ^ 0x5EED).NextBytes(data);
        Ram.Write(RandomProgram.DataPointer - 2048, data);
        var bus = new SystemBus(Ram);
        Device = new RecordingDevice(RandomProgram.MmioBase, 0x1000);
        bus.Attach(Device);
        Hart = new Hart(0, bus, new MachineClock(ClockMode.Deterministic));
        if (hotThreshold is { } threshold)
        {
            Hart.EnableTranslation(threshold);
        }

        Hart.Start(RandomProgram.CodeBase, PrivilegeMode.Machine, 0, 0);
        for (int r = 1; r < 32; r++)
        {
            Hart.SetRegister(r, program.Registers[r]);
        }
    }

    public GuestRam Ram { get; }

    public RecordingDevice Device { get; }

    public Hart Hart { get; }

    /// <summary>Everything architectural about the hart (registers, pc, mode, instret, every CSR, reservation).</summary>
    public byte[] HartState()
    {
        var writer = new StateWriter();
        Hart.SaveState(writer);
        return writer.ToArray();
    }

    public unsafe ReadOnlySpan<byte> Memory => new(Ram.Pointer, (int)Ram.Size);

    public void Dispose() => Ram.Dispose();
}
