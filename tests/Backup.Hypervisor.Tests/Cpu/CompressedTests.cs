using Backup.Hypervisor.Translation;
namespace Backup.Hypervisor.Tests.Cpu;

/// <summary>
/// C extension: one program written with ordinary mnemonics, chosen so that every RV64C instruction form is
/// produced when assembled with C, runs to the same architectural state as the same source assembled without C.
/// </summary>
public class CompressedTests
{
    private const string Program = """
            li sp, DATA + 0x800
            li t0, 0x0123456789abcdef
            sd t0, 504(sp)
            addi s0, sp, 1020           # c.addi4spn
            addi s0, s0, -4
            li a0, -17                  # c.li
            lui a1, 0x1f                # c.lui
            lui a2, 0xfffe0             # c.lui, negative
            addi a0, a0, 31             # c.addi
            addi a0, a0, -32
            nop                         # c.nop
            addiw a1, a1, -1            # c.addiw
            addiw a2, a2, 0             # c.addiw (sext.w)
            addi sp, sp, -64            # c.addi16sp
            addi sp, sp, 496
            addi sp, sp, -432
            sd a0, 8(sp)                # c.sdsp
            sw a1, 252(sp)              # c.swsp
            ld a3, 8(sp)                # c.ldsp
            lw a4, 252(sp)              # c.lwsp
            ld t1, 504(sp)              # c.ldsp, full register
            sd a0, 248(s0)              # c.sd
            ld a5, 248(s0)              # c.ld
            sw a2, 124(s0)              # c.sw
            lw s1, 124(s0)              # c.lw
            srli a5, a5, 3              # c.srli
            sd a5, 48(sp)
            srai s1, s1, 33             # c.srai (shamt >= 32)
            sd s1, 56(sp)
            andi a3, a3, -5             # c.andi
            sub a0, a0, a1              # c.sub
            sd a0, 16(sp)
            xor a0, a0, a2              # c.xor
            sd a0, 24(sp)
            or a0, a0, a3               # c.or
            sd a0, 32(sp)
            and a0, a0, a4              # c.and
            sd a0, 40(sp)
            subw a1, a1, a2             # c.subw
            addw a2, a2, a3             # c.addw
            slli t1, t1, 40             # c.slli
            mv t2, a0                   # c.mv
            add t2, t2, a1              # c.add
            li a5, 0
            li s1, 3
        1:  addi a5, a5, 2
            addi s1, s1, -1
            bnez s1, 1b                 # c.bnez
            beqz s1, 2f                 # c.beqz
            li a5, 99
        2:  j 3f                        # c.j
            li a5, 98
        3:  la t3, 4f
            jalr t3                     # c.jalr
        5:  la t4, 5b
            sub ra, ra, t4              # ra - return label = 0
            la t3, 6f
            jr t3                       # c.jr
            li a5, 97
        4:  addi a4, a4, 1
            ret                         # c.jr ra
        6:  li t3, 0
            li t4, 0
            HALT
        """;

    private static readonly string[] ExpectedForms =
    [
        "C.ADDI4SPN", "C.LW", "C.LD", "C.SW", "C.SD", "C.NOP", "C.ADDI", "C.ADDIW", "C.LI", "C.ADDI16SP", "C.LUI",
        "C.SRLI", "C.SRAI", "C.ANDI", "C.SUB", "C.XOR", "C.OR", "C.AND", "C.SUBW", "C.ADDW", "C.J", "C.BEQZ",
        "C.BNEZ", "C.SLLI", "C.LWSP", "C.LDSP", "C.JR", "C.MV", "C.JALR", "C.ADD", "C.SWSP", "C.SDSP",
    ];

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Every_compressed_form_matches_its_uncompressed_equivalent(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var compressed = new RiscvTestMachine(Program, compressed: true);
        using var full = new RiscvTestMachine(Program, compressed: false);

        var forms = Classify(compressed.Binary);
        Assert.Empty(ExpectedForms.Except(forms));
        Assert.Empty(Classify(full.Binary));

        compressed.Run();
        full.Run();

        for (int i = 1; i < 32; i++)
        {
            Assert.True(full.X(i) == compressed.X(i), $"x{i}: without C 0x{full.X(i):x}, with C 0x{compressed.X(i):x}\nC:\n{compressed.Describe()}\nno C:\n{full.Describe()}");
        }

        for (ulong a = RiscvTestMachine.Data; a < RiscvTestMachine.Data + 0x2000; a += 8)
        {
            Assert.True(full.Read64(a) == compressed.Read64(a), $"memory 0x{a:x}");
        }

        // A few independently computed values, so that both running the same wrong way would be noticed.
        Assert.Equal(0x1F000UL, compressed.X("a4"));
        Assert.Equal(6UL, compressed.X("a5"));
        Assert.Equal(0UL, compressed.X("ra"));
        Assert.Equal(0xABCD_EF00_0000_0000UL, compressed.X("t1"));
        Assert.Equal(0x3EFFFUL, compressed.X("a1"));
        Assert.Equal(0xFFFF_FFFF_FFFD_FFEAUL, compressed.X("a2"));
        Assert.Equal(unchecked((ulong)-22), compressed.X("a3"));
        Assert.Equal(0x1EFFFU, compressed.Read32(RiscvTestMachine.Data + 0x800 + 252));
        Assert.Equal(0xFFFE_0000U, compressed.Read32(RiscvTestMachine.Data + 0x800 + 1140));
        Assert.Equal(unchecked((ulong)-18), compressed.Read64(RiscvTestMachine.Data + 0x800 + 1264));
        ulong[] steps = [.. Enumerable.Range(2, 6).Select(i => compressed.Read64(RiscvTestMachine.Data + 0x800 + (8 * (ulong)i)))];
        Assert.Equal([0xFFFF_FFFF_FFFE_0FEFUL, 0xFEFUL, 0xFFFF_FFFF_FFFF_FFEFUL, 0x1EFEFUL, 0x1FFF_FFFF_FFFF_FFFDUL, ulong.MaxValue], steps);
    }

    [Theory]
    [MemberData(nameof(ExecutionModes.Both), MemberType = typeof(ExecutionModes))]
    public void Compressed_instruction_at_a_page_end_and_32_bit_instruction_straddling_pages(ExecutionMode mode)
    {
        using var executionMode = RiscvTestMachine.UseMode(mode);
        using var m = new RiscvTestMachine("""
                li a0, 1
                li t0, DATA + 0xFFC
                jalr t0
                HALT
            """);
        const ulong At = RiscvTestMachine.Data + 0xFFC;
        m.Ram.Write(At, BitConverter.GetBytes((ushort)0x0505));            // c.addi a0, 1
        m.Ram.Write(At + 2, BitConverter.GetBytes(0x00550513u));           // addi a0, a0, 5 (crosses into next page)
        m.Ram.Write(At + 6, BitConverter.GetBytes((ushort)0x8082));        // c.jr ra
        m.Run();
        Assert.Equal(7UL, m.X("a0"));
    }

    /// <summary>Names the RV64C form of every 16-bit parcel in a binary (instructions are contiguous).</summary>
    private static HashSet<string> Classify(byte[] binary)
    {
        var forms = new HashSet<string>();
        int i = 0;
        while (i + 1 < binary.Length)
        {
            uint c = BitConverter.ToUInt16(binary, i);
            if ((c & 3) == 3)
            {
                i += 4;
                continue;
            }

            i += 2;
            uint f3 = c >> 13;
            uint rd = (c >> 7) & 31;
            uint rs2 = (c >> 2) & 31;
            string? name = (c & 3, f3) switch
            {
                (0, 0) => "C.ADDI4SPN", (0, 2) => "C.LW", (0, 3) => "C.LD", (0, 6) => "C.SW", (0, 7) => "C.SD",
                (1, 0) => rd == 0 ? "C.NOP" : "C.ADDI", (1, 1) => "C.ADDIW", (1, 2) => "C.LI",
                (1, 3) => rd == 2 ? "C.ADDI16SP" : "C.LUI",
                (1, 4) => ((c >> 10) & 3) switch
                {
                    0 => "C.SRLI", 1 => "C.SRAI", 2 => "C.ANDI",
                    _ => (((c >> 12) & 1) << 2 | ((c >> 5) & 3)) switch { 0 => "C.SUB", 1 => "C.XOR", 2 => "C.OR", 3 => "C.AND", 4 => "C.SUBW", 5 => "C.ADDW", _ => null },
                },
                (1, 5) => "C.J", (1, 6) => "C.BEQZ", (1, 7) => "C.BNEZ",
                (2, 0) => "C.SLLI", (2, 2) => "C.LWSP", (2, 3) => "C.LDSP",
                (2, 4) => ((c >> 12) & 1) == 0 ? (rs2 == 0 ? "C.JR" : "C.MV") : (rs2 == 0 ? (rd == 0 ? "C.EBREAK" : "C.JALR") : "C.ADD"),
                (2, 6) => "C.SWSP", (2, 7) => "C.SDSP",
                _ => null,
            };
            forms.Add(name ?? $"other 0x{c:x4}");
        }

        return forms;
    }
}
