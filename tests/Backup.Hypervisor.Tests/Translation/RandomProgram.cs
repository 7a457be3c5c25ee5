using static Backup.Hypervisor.Tests.Translation.RiscvEncoder;

namespace Backup.Hypervisor.Tests.Translation;

/// <summary>
/// A random RV64GC program for differential testing: a loop body of random ALU, M, load/store (RAM across a page
/// boundary, MMIO, unmapped), atomic, compressed, branch/jump, CSR, ECALL, illegal and F/D instructions (every
/// group, every rounding mode including the reserved ones, fcsr accesses), run
/// <see cref="Iterations"/> times so its blocks become hot. Control flow inside the body only goes forward, so the
/// program ends at <see cref="End"/> (a jump to itself). A trap handler skips the trapping (4-byte) instruction.
/// <para>
/// Register roles: x2 (sp) points into the data window and x4 (tp) counts iterations (neither is ever written by
/// the body); x3 (gp) is the body's scratch address register, and the trap handler's.
/// </para>
/// </summary>
internal sealed class RandomProgram
{
    public const ulong CodeBase = 0x8000_0000;
    public const ulong Handler = 0x8001_0000;
    public const ulong DataPointer = 0x8010_0C00; // the window [-512, +1536) straddles the page at 0x80101000
    public const ulong MmioBase = 0x1000_0000;
    public const int Iterations = 40;

    private static readonly int[] Writable = [0, 1, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31];

    private readonly Random _random;
    private readonly List<Item> _items = [];

    private RandomProgram(int seed, int length)
    {
        _random = new Random(seed);
        for (int i = 0; i < length; i++)
        {
            _callStarts.Add(_items.Count);
            AddRandom(i, length);
        }
    }

    /// <summary>The program's bytes (at <see cref="CodeBase"/>) and handler's bytes (at <see cref="Handler"/>).</summary>
    public byte[] Code { get; private set; } = [];

    public byte[] HandlerCode { get; private set; } = [];

    public ulong End { get; private set; }

    /// <summary>Initial values for x1..x31 (x2 and x4 have their fixed roles).</summary>
    public ulong[] Registers { get; } = new ulong[32];

    public static RandomProgram Generate(int seed, int length = 200)
    {
        var program = new RandomProgram(seed, length);
        program.Layout();
        return program;
    }

    private int Rd() => Writable[_random.Next(Writable.Length)];

    private int Rs() => _random.Next(32);

    private int Rc() => 8 + _random.Next(8); // x8..x15 for compressed forms (x8-x15 are all writable)

    private int Imm12() => _random.Next(4) == 0 ? _random.Next(-2048, 2048) : _random.Next(-16, 17);

    private void Add4(uint inst) => _items.Add(new Item(4, _ => BitConverter.GetBytes(inst)));

    private void Add2(ushort inst) => _items.Add(new Item(2, _ => BitConverter.GetBytes(inst)));

    private void AddRandom(int index, int length)
    {
        int kind = _random.Next(118);
        uint f3 = (uint)_random.Next(8);
        switch (kind)
        {
            case < 14: // OP-IMM
            {
                int imm = f3 switch
                {
                    1 => _random.Next(64),
                    5 => _random.Next(64) | (_random.Next(2) << 10),
                    _ => Imm12(),
                };
                Add4(I(0x13, f3, Rd(), Rs(), imm));
                break;
            }

            case < 24: // OP and M
            {
                uint f7 = _random.Next(3) switch { 0 => 0u, 1 => 1u, _ => f3 is 0 or 5 ? 0x20u : 0u };
                Add4(R(0x33, f3, f7, Rd(), Rs(), Rs()));
                break;
            }

            case < 30: // OP-IMM-32
            {
                uint g = (uint)_random.Next(3) switch { 0 => 0u, 1 => 1u, _ => 5u };
                int imm = g == 0 ? Imm12() : _random.Next(32) | (g == 5 && _random.Next(2) == 0 ? 0x400 : 0);
                Add4(I(0x1B, g, Rd(), Rs(), imm));
                break;
            }

            case < 36: // OP-32 and M-word
            {
                (uint g, uint f7) = _random.Next(9) switch
                {
                    0 => (0u, 0u), 1 => (1u, 0u), 2 => (5u, 0u), 3 => (0u, 0x20u), 4 => (5u, 0x20u),
                    5 => (0u, 1u), 6 => (4u, 1u), 7 => (5u, 1u), _ => ((uint)(6 + _random.Next(2)), 1u),
                };
                Add4(R(0x3B, g, f7, Rd(), Rs(), Rs()));
                break;
            }

            case < 39: // LUI / AUIPC
                Add4(U(_random.Next(2) == 0 ? 0x37u : 0x17u, Rd(), _random.Next(1 << 20)));
                break;
            case < 49: // load from the data window (any alignment, across the page boundary)
            {
                uint lf = (uint)_random.Next(7);
                Add4(I(0x03, lf, Rd(), 2, _random.Next(-512, 1536 - 8)));
                break;
            }

            case < 58: // store into the data window
                Add4(S((uint)_random.Next(4), 2, Rs(), _random.Next(-512, 1536 - 8)));
                break;
            case < 60: // MMIO load or store (slow path, ends the quantum on a store)
                Add4(U(0x37, 3, (int)(MmioBase >> 12)));
                Add4(_random.Next(2) == 0 ? I(0x03, (uint)_random.Next(7), Rd(), 3, _random.Next(256)) : S((uint)_random.Next(4), 3, Rs(), _random.Next(256)));
                break;
            case < 61: // access to an unmapped address: access fault
                Add4(U(0x37, 3, 0x20000));
                Add4(_random.Next(2) == 0 ? I(0x03, 3, Rd(), 3, 0) : S(3, 3, Rs(), 0));
                break;
            case < 67: // AMO / LR / SC on an aligned (sometimes misaligned) address in the window
            {
                bool d = _random.Next(2) == 0;
                int offset = (_random.Next(-64, 190) * 8) + (_random.Next(10) == 0 ? 2 : 0) + (d ? 0 : _random.Next(2) * 4);
                Add4(I(0x13, 0, 3, 2, offset));
                uint[] functs = [0x00, 0x01, 0x04, 0x08, 0x0C, 0x10, 0x14, 0x18, 0x1C, 0x02, 0x03];
                uint funct5 = functs[_random.Next(functs.Length)];
                Add4(Amo(funct5, d, Rd(), 3, funct5 == 0x02 ? 0 : Rs()));
                if (funct5 == 0x02 && _random.Next(2) == 0)
                {
                    Add4(Amo(0x03, d, Rd(), 3, Rs()));
                }

                break;
            }

            case < 80: // compressed
                AddCompressed();
                break;
            case < 92: // forward branch or jump within the body
                AddForwardControl(index, length);
                break;
            case < 95: // CSR access (never translated: splits blocks)
                Add4(Csr((uint)(1 + _random.Next(3)), Rd(), Rs(), 0x340)); // mscratch
                break;
            case < 97:
                Add4(0x00000073); // ECALL from M: traps to the handler
                break;
            case < 98:
                Add4(R(0x33, 0, 0x05, Rd(), Rs(), Rs())); // reserved OP encoding: illegal instruction
                break;
            case < 100:
                Add4(0x0000100F); // FENCE.I
                break;
            case < 104:
                AddCountedLoop();
                break;
            default:
                AddFloat();
                break;
        }
    }

    private int Fr() => _random.Next(32);

    /// <summary>One random F/D instruction: arithmetic, FMA, conversion, compare, move, load/store or fcsr access.</summary>
    private void AddFloat()
    {
        uint fmt = _random.Next(16) == 0 ? 2u : (uint)_random.Next(2); // fmt 2 (H) is illegal
        uint rm = _random.Next(6) == 0 ? (uint)(5 + _random.Next(3)) : (uint)_random.Next(5); // 5, 6 reserved; 7 dynamic
        switch (_random.Next(10))
        {
            case 0 or 1: // FADD/FSUB/FMUL/FDIV
                Add4(R(0x53, rm, ((uint)_random.Next(4) << 2) | fmt, Fr(), Fr(), Fr()));
                break;
            case 2: // FSQRT, FSGNJ*, FMIN/FMAX, FCVT.S.D/D.S
            {
                (uint funct5, uint f3, int rs2) = _random.Next(4) switch
                {
                    0 => (0x0Bu, rm, 0),
                    1 => (0x04u, (uint)_random.Next(3), Fr()),
                    2 => (0x05u, (uint)_random.Next(2), Fr()),
                    _ => (0x08u, rm, fmt == 0 ? 1 : 0),
                };
                Add4(R(0x53, f3, (funct5 << 2) | fmt, Fr(), Fr(), rs2));
                break;
            }

            case 3: // FEQ/FLT/FLE, FCLASS, FMV.X.*: integer destination
            {
                (uint funct5, uint f3, int rs2) = _random.Next(3) switch
                {
                    0 => (0x14u, (uint)_random.Next(3), Fr()),
                    1 => (0x1Cu, 1u, 0),
                    _ => (0x1Cu, 0u, 0),
                };
                Add4(R(0x53, f3, (funct5 << 2) | fmt, Rd(), Fr(), rs2));
                break;
            }

            case 4: // FCVT to and from integers, FMV.*.X
                Add4(_random.Next(3) switch
                {
                    0 => R(0x53, rm, (0x18u << 2) | fmt, Rd(), Fr(), _random.Next(4)),
                    1 => R(0x53, rm, (0x1Au << 2) | fmt, Fr(), Rs(), _random.Next(4)),
                    _ => R(0x53, 0, (0x1Eu << 2) | fmt, Fr(), Rs(), 0),
                });
                break;
            case 5: // FMADD/FMSUB/FNMSUB/FNMADD
                Add4(R(0x43u | ((uint)_random.Next(4) << 2), rm, ((uint)Fr() << 2) | fmt, Fr(), Fr(), Fr()));
                break;
            case 6 or 7: // FLW/FLD/FSW/FSD in the data window, or C.FLDSP/C.FSDSP
            {
                uint width = 2 + (uint)_random.Next(2);
                int offset = _random.Next(-512, 1536 - 8);
                switch (_random.Next(3))
                {
                    case 0: Add4(I(0x07, width, Fr(), 2, offset)); break;
                    case 1: Add4(S(width, 2, Fr(), offset) ^ 0x23u ^ 0x27u); break;
                    default: Add2(_random.Next(2) == 0 ? (ushort)(Ldsp(Fr(), _random.Next(64) * 8) & ~0x4000) : (ushort)(Sdsp(Fr(), _random.Next(64) * 8) & ~0x4000)); break;
                }

                break;
            }

            default: // fflags/frm/fcsr reads and writes (frm may become a reserved value: dynamic rm is then illegal)
                Add4(Csr((uint)(1 + _random.Next(3)) | (_random.Next(2) == 0 ? 4u : 0u), Rd(), _random.Next(8), (uint)(1 + _random.Next(3))));
                break;
        }
    }

    /// <summary>
    /// A block that branches back to its own start (compiled as a loop inside one method): x3 = count; then
    /// [1-5 ALU, FP arithmetic (FS is on, rm static) or data-window instructions that cannot trap or write x3]; x3 -= 1; bnez x3, start.
    /// </summary>
    private void AddCountedLoop()
    {
        Add4(I(0x13, 0, 3, 0, 1 + _random.Next(40)));
        var body = new List<byte>();
        int count = 1 + _random.Next(5);
        for (int k = 0; k < count; k++)
        {
            uint inst = _random.Next(7) switch
            {
                5 => R(0x53, (uint)_random.Next(5), ((uint)_random.Next(4) << 2) | (uint)_random.Next(2), Fr(), Fr(), Fr()), // FADD..FDIV, static rm
                6 => R(0x43u | ((uint)_random.Next(4) << 2), (uint)_random.Next(5), ((uint)Fr() << 2) | (uint)_random.Next(2), Fr(), Fr(), Fr()), // FMA
                0 => I(0x13, 0, Rd(), Rs(), Imm12()),
                1 => R(0x33, (uint)_random.Next(8), _random.Next(2) == 0 ? 0u : 1u, Rd(), Rs(), Rs()),
                2 => I(0x03, (uint)_random.Next(7), Rd(), 2, _random.Next(-512, 1536 - 8)),
                3 => S((uint)_random.Next(4), 2, Rs(), _random.Next(-512, 1536 - 8)),
                _ => R(0x3B, 0, 0, Rd(), Rs(), Rs()),
            };
            body.AddRange(BitConverter.GetBytes(inst));
        }

        body.AddRange(BitConverter.GetBytes(I(0x13, 0, 3, 3, -1)));
        body.AddRange(BitConverter.GetBytes(B(1, 3, 0, -body.Count)));
        byte[] bytes = [.. body];
        _items.Add(new Item(bytes.Length, _ => bytes));
    }

    private void AddCompressed()
    {
        switch (_random.Next(12))
        {
            case 0: Add2(CI(0, 1, NonZero(Rd()), _random.Next(-32, 32))); break; // C.ADDI
            case 1: Add2(CI(2, 1, NonZero(Rd()), _random.Next(-32, 32))); break; // C.LI
            case 2: Add2(CI(1, 1, NonZero(Rd()), _random.Next(-32, 32))); break; // C.ADDIW
            case 3: Add2(CI(0, 2, NonZero(Rd()), 1 + _random.Next(63))); break; // C.SLLI
            case 4: Add2(CR(_random.Next(2) == 0, NonZero(Rd()), NonZero(Rs()))); break; // C.MV / C.ADD
            case 5: Add2(CB((uint)_random.Next(2), Rc(), 1 + _random.Next(63))); break; // C.SRLI / C.SRAI
            case 6: Add2(CB(2, Rc(), _random.Next(-32, 32))); break; // C.ANDI
            case 7: Add2(CA(false, (uint)_random.Next(4), Rc(), Rc())); break;
            case 8: Add2(CA(true, (uint)_random.Next(2), Rc(), Rc())); break;
            case 9: Add2(_random.Next(2) == 0 ? Ldsp(NonZero(Rd()), _random.Next(64) * 8) : Lwsp(NonZero(Rd()), _random.Next(64) * 4)); break;
            default: Add2(_random.Next(2) == 0 ? Sdsp(Rs(), _random.Next(64) * 8) : Swsp(Rs(), _random.Next(64) * 4)); break;
        }
    }

    private static int NonZero(int r) => r == 0 ? 1 : r;

    private void AddForwardControl(int index, int length)
    {
        int target = Math.Min(index + 1 + _random.Next(6), length); // item index in the body; length = loop tail
        int choice = _random.Next(6);
        int rs1 = Rs(), rs2 = Rs(), rd = Rd();
        int rc = Rc();
        bool bnez = _random.Next(2) == 0;
        uint f3 = new uint[] { 0, 1, 4, 5, 6, 7 }[_random.Next(6)];
        switch (choice)
        {
            case 0 or 1:
                _items.Add(new Item(4, at => BitConverter.GetBytes(B(f3, rs1, rs2, Offset(at, target)))));
                break;
            case 2:
                _items.Add(new Item(4, at => BitConverter.GetBytes(J(rd, Offset(at, target)))));
                break;
            case 3:
                _items.Add(new Item(2, at => BitConverter.GetBytes(CBranch(bnez, rc, Offset(at, target)))));
                break;
            case 4:
                _items.Add(new Item(2, at => BitConverter.GetBytes(CJ(Offset(at, target)))));
                break;
            default: // AUIPC x3 + JALR rd, off(x3)
                _items.Add(new Item(8, at =>
                {
                    int offset = Offset(at, target);
                    return [.. BitConverter.GetBytes(U(0x17, 3, 0)), .. BitConverter.GetBytes(I(0x67, 0, rd, 3, offset))];
                }));
                break;
        }

    }

    private ulong[] _itemAddresses = [];
    private ulong[] _callAddresses = [];

    /// <summary>Byte offset from item <paramref name="at"/> to the first instruction of body position <paramref name="target"/>.</summary>
    private int Offset(int at, int target) => (int)((long)_callAddresses[target] - (long)_itemAddresses[at]);

    private void Layout()
    {
        // Prologue: mtvec = Handler (AUIPC: a LUI of 0x80010 would sign-extend); mstatus.FS = Initial.
        uint[] prologue = [U(0x17, 3, (int)((Handler - CodeBase) >> 12)), Csr(1, 0, 3, 0x305), U(0x37, 3, 2), Csr(2, 0, 3, 0x300)];
        ulong address = CodeBase + (ulong)(prologue.Length * 4);
        _itemAddresses = new ulong[_items.Count];
        for (int i = 0; i < _items.Count; i++)
        {
            _itemAddresses[i] = address;
            address += (ulong)_items[i].Length;
        }

        ulong tail = address;
        _callAddresses = [.. _callStarts.Select(i => _itemAddresses[i]), tail];
        var code = new List<byte>();
        foreach (uint p in prologue)
        {
            code.AddRange(BitConverter.GetBytes(p));
        }

        for (int i = 0; i < _items.Count; i++)
        {
            code.AddRange(_items[i].Encode(i));
        }

        // Loop tail: x4 -= 1; bnez x4, body; then spin at End.
        code.AddRange(BitConverter.GetBytes(I(0x13, 0, 4, 4, -1)));
        long back = (long)_callAddresses[0] - (long)(tail + 4);
        code.AddRange(BitConverter.GetBytes(B(1, 4, 0, (int)back)));
        End = tail + 8;
        code.AddRange(BitConverter.GetBytes(J(0, 0)));
        Code = [.. code];

        // Handler: mepc += 4; mret (x3 is scratch).
        uint[] handler =
        [
            Csr(2, 3, 0, 0x341), // csrr x3, mepc
            I(0x13, 0, 3, 3, 4),
            Csr(1, 0, 3, 0x341), // csrw mepc, x3
            0x30200073, // mret
        ];
        HandlerCode = [.. handler.SelectMany(BitConverter.GetBytes)];

        for (int r = 1; r < 32; r++)
        {
            Registers[r] = _random.Next(4) switch
            {
                0 => (ulong)_random.Next(-8, 8),
                1 => 1UL << _random.Next(64),
                _ => (ulong)_random.NextInt64() ^ ((ulong)_random.Next() << 40),
            };
        }

        Registers[2] = DataPointer;
        Registers[4] = Iterations;
    }

    private readonly List<int> _callStarts = [];

    private sealed record Item(int Length, Func<int, byte[]> Encode);
}
