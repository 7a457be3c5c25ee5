using Backup.Hypervisor.Cpu;
using Backup.Hypervisor.Memory;
using Backup.Hypervisor.Sbi;
using Backup.Hypervisor.Timing;

namespace Backup.Hypervisor.Tests.Sbi;

/// <summary>
/// An <see cref="SbiServer"/> wired to <see cref="HartCount"/> real harts (1 MiB of RAM at 0x80000000, a
/// deterministic clock), with its console and reset callbacks recorded. <see cref="Call"/> issues one SBI call
/// as hart <c>h</c> would (registers a0-a7 loaded, the handler invoked as the ECALL path invokes it).
/// Harts start in M-mode and running; hart 0 is the boot hart.
/// </summary>
internal sealed class SbiTestMachine : IDisposable
{
    public const ulong RamBase = 0x8000_0000;
    public const ulong RamSize = 1 << 20;

    // Scratch code for CSR reads: "csrrs a0, <csr>, x0" then "j .".
    private const ulong ScratchCode = RamBase + RamSize - 0x1000;

    private readonly Queue<byte> _input = new();

    public SbiTestMachine(int hartCount = 4)
    {
        Ram = new GuestRam(RamBase, RamSize);
        var bus = new SystemBus(Ram);
        Clock = new MachineClock(ClockMode.Deterministic);
        Server = new SbiServer(Output.Add, () => _input.Count > 0 ? _input.Dequeue() : -1, Resets.Add);
        Harts = [.. Enumerable.Range(0, hartCount).Select(i => new Hart(i, bus, Clock, Server))];
        foreach (var hart in Harts)
        {
            hart.ConfigureHostFirmware();
        }

        Server.AttachHarts(Harts);
    }

    public int HartCount => Harts.Length;

    public GuestRam Ram { get; }

    public MachineClock Clock { get; }

    public SbiServer Server { get; }

    public Hart[] Harts { get; }

    public List<byte> Output { get; } = [];

    public List<SystemResetKind> Resets { get; } = [];

    public void QueueInput(params byte[] bytes)
    {
        foreach (byte b in bytes)
        {
            _input.Enqueue(b);
        }
    }

    /// <summary>
    /// Makes an SBI call from hart <paramref name="hart"/>: a7 = EID, a6 = FID, a0-a5 = arguments. Returns a0 (error)
    /// and a1 (value) as the caller sees them afterwards.
    /// </summary>
    public (long Error, ulong Value) Call(int hart, long extension, long function, params ulong[] args)
    {
        var h = Harts[hart];
        for (int i = 0; i < 6; i++)
        {
            h.SetRegister(10 + i, i < args.Length ? args[i] : 0xA0A0_0000UL + (ulong)i);
        }

        h.SetRegister(16, (ulong)function);
        h.SetRegister(17, (ulong)extension);
        Server.HandleSupervisorCall(h);
        return ((long)h.GetRegister(10), h.GetRegister(11));
    }

    /// <summary>Reads a CSR on <paramref name="hart"/> by executing one csrrs instruction there; registers, pc and run state are restored.</summary>
    public ulong ReadCsr(int hart, int csr)
    {
        var h = Harts[hart];
        Span<byte> code = stackalloc byte[8];
        BitConverter.TryWriteBytes(code, ((uint)csr << 20) | (2u << 12) | (10u << 7) | 0x73u);
        BitConverter.TryWriteBytes(code[4..], 0x0000_006Fu); // j .
        Ram.Write(ScratchCode, code);
        ulong savedPc = h.Pc, savedA0 = h.GetRegister(10);
        var savedState = h.State;
        h.State = HartState.Running;
        h.Pc = ScratchCode;
        h.Run(1);
        ulong value = h.GetRegister(10);
        Assert.True(h.Pc == ScratchCode + 4, $"csrrs 0x{csr:x} trapped (pc=0x{h.Pc:x}, mode {h.Mode})");
        h.Pc = savedPc;
        h.SetRegister(10, savedA0);
        h.State = savedState;
        return value;
    }

    public void Dispose() => Ram.Dispose();
}
