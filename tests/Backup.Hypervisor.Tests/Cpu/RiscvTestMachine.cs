using Backup.TestSupport;
using System.Globalization;
using System.Text;
using Backup.Hypervisor.Cpu;
using Backup.Hypervisor.Devices;
using Backup.Hypervisor.Memory;
using Backup.Hypervisor.Timing;
using Backup.Hypervisor.Translation;

namespace Backup.Hypervisor.Tests.Cpu;

/// <summary>One logged trap: the cause, epc, tval and status CSRs the handler saw.</summary>
internal readonly record struct TrapRecord(ulong Cause, ulong Epc, ulong Tval, ulong Status)
{
    public override string ToString() =>
        $"cause=0x{Cause:x} epc=0x{Epc:x} tval=0x{Tval:x} status=0x{Status:x}";
}

/// <summary>
/// A single-hart test machine: 4 MiB of RAM at 0x80000000 holding a program assembled from source, an optional
/// MMIO device, a deterministic clock and a <see cref="Hart"/> started in M-mode at 0x80000000.
/// <para>
/// Conventions (see <see cref="PreludeDefinitions"/> and <see cref="PreludeCode"/>): the program ends with the HALT macro, which writes 1 to TOHOST and
/// spins; the harness polls TOHOST between slices of <see cref="SliceSize"/> instructions. HALT clobbers t5/t6.
/// mtvec initially points to a handler that reports any trap as a test failure. The prelude also provides
/// m_trap_log / m_trap_halt / s_trap_log / s_trap_halt handlers that record traps (read back through
/// <see cref="MTraps"/> / <see cref="STraps"/>); the *_log ones skip the trapping instruction (or resume at the
/// address stored in M_RESUME / S_RESUME) and disable a trapping interrupt in mie/sie; they preserve all
/// registers. Page tables for Sv39 are built from C# with <see cref="Map"/> before <see cref="Run"/>.
/// </para>
/// </summary>
internal sealed class RiscvTestMachine : IDisposable
{
    public const ulong RamBase = 0x8000_0000;
    public const ulong RamSize = 4UL << 20;
    public const ulong Data = 0x8010_0000;
    public const ulong UserArea = 0x8020_0000;
    public const ulong PtRoot = 0x8038_0000;
    public const ulong PtEnd = 0x803F_0000;
    public const ulong MLog = 0x803F_0000;
    public const ulong SLog = 0x803F_8000;
    public const ulong ToHost = 0x803F_F000;
    public const ulong Save = 0x803F_F800;
    public const ulong MmioBase = 0x1000_0000;
    public const ulong MmioSize = 0x1000;
    public const ulong Unmapped = 0x2000_0000;
    public const int SliceSize = 1000;

    public const ulong PteV = 1, PteR = 2, PteW = 4, PteX = 8, PteU = 16, PteG = 32, PteA = 64, PteD = 128;

    public const string PreludeDefinitions = """
        .equ RAM_BASE, 0x80000000
        .equ DATA, 0x80100000
        .equ USER_AREA, 0x80200000
        .equ PT_ROOT, 0x80380000
        .equ MLOG, 0x803F0000
        .equ SLOG, 0x803F8000
        .equ TOHOST, 0x803FF000
        .equ SAVE, 0x803FF800
        .equ M_RESUME, SAVE + 0x40
        .equ S_RESUME, SAVE + 0x48
        .equ MMIO, 0x10000000
        .equ UNMAPPED, 0x20000000
        .equ SATP_SV39, (8 << 60) | (PT_ROOT >> 12)
        .equ MSTATUS_SIE, 1 << 1
        .equ MSTATUS_MIE, 1 << 3
        .equ MSTATUS_SPIE, 1 << 5
        .equ MSTATUS_MPIE, 1 << 7
        .equ MSTATUS_SPP, 1 << 8
        .equ MSTATUS_MPP, 3 << 11
        .equ MSTATUS_MPRV, 1 << 17
        .equ MSTATUS_SUM, 1 << 18
        .equ MSTATUS_MXR, 1 << 19
        .equ MSTATUS_TVM, 1 << 20
        .equ MSTATUS_TW, 1 << 21
        .equ MSTATUS_TSR, 1 << 22

        .macro HALT
            li t6, TOHOST
            li t5, 1
            sd t5, 0(t6)
        99: j 99b
        .endm

        # Switch from M-mode to S-mode (or U-mode) at \target via mret. Clobbers t6.
        .macro ENTER_S target
            li t6, MSTATUS_MPP
            csrc mstatus, t6
            li t6, 1 << 11
            csrs mstatus, t6
            la t6, \target
            csrw mepc, t6
            mret
        .endm
        .macro ENTER_U target
            li t6, MSTATUS_MPP
            csrc mstatus, t6
            la t6, \target
            csrw mepc, t6
            mret
        .endm

        .macro LOG_TRAP log, cause, epc, tval, status, scratch
            csrw \scratch, t0
            li t0, SAVE
            sd t1, 0(t0)
            sd t2, 8(t0)
            li t0, \log
            ld t1, 0(t0)
            li t2, 200
            bgeu t1, t2, __unexpected_trap
            addi t2, t1, 1
            sd t2, 0(t0)
            slli t1, t1, 5
            add t1, t1, t0
            csrr t2, \cause
            sd t2, 32(t1)
            csrr t2, \epc
            sd t2, 40(t1)
            csrr t2, \tval
            sd t2, 48(t1)
            csrr t2, \status
            sd t2, 56(t1)
        .endm

        .macro RESTORE_T scratch
            li t0, SAVE
            ld t1, 0(t0)
            ld t2, 8(t0)
            csrr t0, \scratch
        .endm

        """;

    public const string PreludeCode = """
        .text
        .globl _start
        _start:
            la t6, __unexpected_trap
            csrw mtvec, t6
            li t6, -1                   # PMP entry 0: all memory RWX for S and U, as firmware sets it up
            csrw pmpaddr0, t6
            li t6, 0x1F
            csrw pmpcfg0, t6
            j __test_main

            .align 2
        __unexpected_trap:
            li t6, TOHOST
            csrr t5, mcause
            sd t5, 8(t6)
            csrr t5, mepc
            sd t5, 16(t6)
            csrr t5, mtval
            sd t5, 24(t6)
            li t5, 3
            sd t5, 0(t6)
        98: j 98b

            .align 2
        m_trap_halt:
            LOG_TRAP MLOG, mcause, mepc, mtval, mstatus, mscratch
            RESTORE_T mscratch
            HALT

            .align 2
        m_trap_log:
            LOG_TRAP MLOG, mcause, mepc, mtval, mstatus, mscratch
            csrr t2, mcause
            bgez t2, 1f
            li t1, 1
            sll t1, t1, t2
            csrc mie, t1
            j 3f
        1:  li t0, M_RESUME
            ld t1, 0(t0)
            beqz t1, 2f
            sd zero, 0(t0)
            csrw mepc, t1
            j 3f
        2:  csrr t1, mepc
            lhu t2, 0(t1)
            andi t2, t2, 3
            li t0, 3
            addi t1, t1, 2
            bne t2, t0, 4f
            addi t1, t1, 2
        4:  csrw mepc, t1
        3:  RESTORE_T mscratch
            mret

            .align 2
        s_trap_halt:
            LOG_TRAP SLOG, scause, sepc, stval, sstatus, sscratch
            RESTORE_T sscratch
            HALT

            .align 2
        s_trap_log:
            LOG_TRAP SLOG, scause, sepc, stval, sstatus, sscratch
            csrr t2, scause
            bgez t2, 1f
            li t1, 1
            sll t1, t1, t2
            csrc sie, t1
            j 3f
        1:  li t0, S_RESUME
            ld t1, 0(t0)
            beqz t1, 2f
            sd zero, 0(t0)
            csrw sepc, t1
            j 3f
        2:  li t0, MSTATUS_SUM
            csrrs t0, sstatus, t0
            csrr t1, sepc
            lhu t2, 0(t1)
            csrw sstatus, t0
            andi t2, t2, 3
            li t0, 3
            addi t1, t1, 2
            bne t2, t0, 4f
            addi t1, t1, 2
        4:  csrw sepc, t1
        3:  RESTORE_T sscratch
            sret

        __test_main:

        """;

    private static readonly string[] AbiNames =
    [
        "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5",
        "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
    ];

    private static readonly AsyncLocal<ExecutionMode> AmbientMode = new();

    private ulong _nextTable = PtRoot + 0x1000;

    /// <summary>
    /// Machines created by the calling test (until the result is disposed) run in <paramref name="mode"/>;
    /// translated machines compile every block on first sight.
    /// </summary>
    public static IDisposable UseMode(ExecutionMode mode)
    {
        var previous = AmbientMode.Value;
        AmbientMode.Value = mode;
        return new ModeScope(previous);
    }

    /// <param name="body">Program text (appended to the prelude).</param>
    /// <param name="compressed">Assemble with the C extension.</param>
    /// <param name="firmware">Host firmware: when set, the hart gets <see cref="Hart.ConfigureHostFirmware"/> and starts in S-mode.</param>
    /// <param name="withPrelude">False: only the definitions are prepended; the body provides _start.</param>
    public RiscvTestMachine(string body, bool compressed = true, ISupervisorCallHandler? firmware = null, bool withPrelude = true)
    {
        string source = withPrelude ? PreludeDefinitions + PreludeCode + body + "\n" : PreludeDefinitions + body + "\n";
        Binary = RiscvAssembler.Assemble(source, compressed);
        if ((ulong)Binary.Length > Data - RamBase)
        {
            throw new InvalidOperationException("test program overlaps the DATA area");
        }

        Ram = new GuestRam(RamBase, RamSize);
        Ram.Write(RamBase, Binary);
        Bus = new SystemBus(Ram);
        Device = new RecordingDevice(MmioBase, MmioSize);
        Bus.Attach(Device);
        Clock = new MachineClock(ClockMode.Deterministic);
        Hart = new Hart(0, Bus, Clock, firmware);
        if (AmbientMode.Value == ExecutionMode.Translated)
        {
            Hart.EnableTranslation(hotThreshold: 1);
        }

        if (firmware is not null)
        {
            Hart.ConfigureHostFirmware();
        }

        Hart.Start(RamBase, firmware is null ? PrivilegeMode.Machine : PrivilegeMode.Supervisor, 0, 0);
    }

    public byte[] Binary { get; }

    public GuestRam Ram { get; }

    public SystemBus Bus { get; }

    public RecordingDevice Device { get; }

    public MachineClock Clock { get; }

    public Hart Hart { get; }

    /// <summary>0 = running, 1 = HALT, 3 = unexpected trap.</summary>
    public ulong Status => Read64(ToHost);

    public bool Halted => Status != 0;

    public IReadOnlyList<TrapRecord> MTraps => ReadLog(MLog);

    public IReadOnlyList<TrapRecord> STraps => ReadLog(SLog);

    public ulong X(int index) => Hart.GetRegister(index);

    public ulong X(string name)
    {
        int i = Array.IndexOf(AbiNames, name);
        if (i < 0 && name.StartsWith('x'))
        {
            i = int.Parse(name[1..], CultureInfo.InvariantCulture);
        }

        return i is >= 0 and < 32 ? Hart.GetRegister(i) : throw new ArgumentException($"unknown register {name}", nameof(name));
    }

    public unsafe ulong Read64(ulong pa) => *(ulong*)Host(pa, 8);

    public unsafe uint Read32(ulong pa) => *(uint*)Host(pa, 4);

    public unsafe byte Read8(ulong pa) => *Host(pa, 1);

    public unsafe void Write64(ulong pa, ulong value) => *(ulong*)Host(pa, 8) = value;

    /// <summary>Runs until the program halts; fails the test on an unexpected trap, fatal error or budget exhaustion.</summary>
    public RiscvTestMachine Run(long budget = 500_000) => RunUntil(() => false, budget);

    /// <summary>Runs until <paramref name="condition"/> holds (checked between slices) or the program halts.</summary>
    public RiscvTestMachine RunUntil(Func<bool> condition, long budget = 500_000)
    {
        long spent = 0;
        while (!Halted && !condition())
        {
            if (Hart.FatalError is not null)
            {
                Assert.Fail($"hart fatal error: {Hart.FatalError}\n{Describe()}");
            }

            if (spent >= budget)
            {
                Assert.Fail($"instruction budget of {budget} exhausted without HALT\n{Describe()}");
            }

            if (Hart.State == HartState.WaitingForInterrupt)
            {
                if (!Hart.HasPendingInterrupt)
                {
                    // Idle: skip deterministic time to the timer compare, as the machine would.
                    if (Hart.TimerCompare != ulong.MaxValue)
                    {
                        Clock.SkipTo(Hart.TimerCompare);
                        Hart.UpdateTimer(Clock.Now);
                    }

                    if (!Hart.HasPendingInterrupt)
                    {
                        Assert.Fail($"hart waits for an interrupt that can never arrive\n{Describe()}");
                    }
                }

                Hart.State = HartState.Running;
            }

            ulong before = Hart.Instret;
            int used = Hart.Run(SliceSize);
            spent += Math.Max(used, 1);
            Clock.Retire(Hart.Instret - before);
            Hart.UpdateTimer(Clock.Now);
        }

        if (Status == 3)
        {
            Assert.Fail($"unexpected trap: mcause=0x{Read64(ToHost + 8):x} mepc=0x{Read64(ToHost + 16):x} mtval=0x{Read64(ToHost + 24):x}\n{Describe()}");
        }

        return this;
    }

    /// <summary>Maps <paramref name="va"/> to <paramref name="pa"/> in the Sv39 table at PT_ROOT. level 0 = 4 KiB, 1 = 2 MiB, 2 = 1 GiB.</summary>
    public void Map(ulong va, ulong pa, ulong flags, int level = 0) => SetPte(va, level, ((pa >> 12) << 10) | flags | PteV);

    /// <summary>Writes a raw PTE for <paramref name="va"/> at <paramref name="level"/>, creating intermediate tables.</summary>
    public void SetPte(ulong va, int level, ulong pte) => Write64(PteAddress(va, level), pte);

    /// <summary>The address of the PTE for <paramref name="va"/> at <paramref name="level"/> (intermediate tables are created).</summary>
    public ulong PteAddress(ulong va, int level)
    {
        ulong table = PtRoot;
        for (int l = 2; l > level; l--)
        {
            ulong slot = table + (((va >> (12 + (9 * l))) & 511) * 8);
            ulong pte = Read64(slot);
            if ((pte & PteV) == 0)
            {
                if (_nextTable >= PtEnd)
                {
                    throw new InvalidOperationException("out of page-table pages");
                }

                pte = ((_nextTable >> 12) << 10) | PteV;
                _nextTable += 0x1000;
                Write64(slot, pte);
            }
            else if ((pte & (PteR | PteW | PteX)) != 0)
            {
                throw new InvalidOperationException($"va 0x{va:x}: level {l} is already a leaf");
            }

            table = (pte >> 10) << 12;
        }

        return table + (((va >> (12 + (9 * level))) & 511) * 8);
    }

    public string Describe()
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"pc=0x{Hart.Pc:x} mode={Hart.Mode} instret={Hart.Instret} state={Hart.State} tohost={Status}");
        sb.AppendLine();
        for (int i = 0; i < 32; i++)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{AbiNames[i],5}=0x{Hart.GetRegister(i):x16}");
            sb.Append(i % 4 == 3 ? "\n" : "  ");
        }

        foreach (var t in MTraps)
        {
            sb.Append("M trap: ").AppendLine(t.ToString());
        }

        foreach (var t in STraps)
        {
            sb.Append("S trap: ").AppendLine(t.ToString());
        }

        return sb.ToString();
    }

    public void Dispose() => Ram.Dispose();

    private sealed class ModeScope(ExecutionMode previous) : IDisposable
    {
        public void Dispose() => AmbientMode.Value = previous;
    }

    private List<TrapRecord> ReadLog(ulong log)
    {
        ulong count = Math.Min(Read64(log), 200);
        var list = new List<TrapRecord>();
        for (ulong i = 0; i < count; i++)
        {
            ulong e = log + 32 + (32 * i);
            list.Add(new TrapRecord(Read64(e), Read64(e + 8), Read64(e + 16), Read64(e + 24)));
        }

        return list;
    }

    private unsafe byte* Host(ulong pa, int size)
    {
        if (!Ram.Contains(pa, (ulong)size))
        {
            throw new ArgumentOutOfRangeException(nameof(pa), $"0x{pa:x} is outside RAM");
        }

        return Ram.Pointer + (pa - RamBase);
    }
}

/// <summary>An MMIO device that remembers the last write and answers reads with a fixed pattern.</summary>
internal sealed class RecordingDevice(ulong baseAddress, ulong size) : IMmioDevice
{
    public string Name => "test-device";

    public ulong Base { get; } = baseAddress;

    public ulong Size { get; } = size;

    public List<(ulong Offset, int Size, ulong Value)> Writes { get; } = [];

    public int Reads { get; private set; }

    public ulong Read(ulong offset, int size)
    {
        Reads++;
        ulong v = 0x1122_3344_5566_7788UL + offset;
        return size == 8 ? v : v & ((1UL << (8 * size)) - 1);
    }

    public void Write(ulong offset, int size, ulong value) => Writes.Add((offset, size, value));
}
