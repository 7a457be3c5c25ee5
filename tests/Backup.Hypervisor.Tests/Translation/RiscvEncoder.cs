namespace Backup.Hypervisor.Tests.Translation;

/// <summary>Encodes RV64IMAC instructions (base and compressed forms) from their fields, for generated test programs.</summary>
internal static class RiscvEncoder
{
    public static uint R(uint opcode, uint f3, uint f7, int rd, int rs1, int rs2) =>
        opcode | ((uint)rd << 7) | (f3 << 12) | ((uint)rs1 << 15) | ((uint)rs2 << 20) | (f7 << 25);

    public static uint I(uint opcode, uint f3, int rd, int rs1, int imm) =>
        opcode | ((uint)rd << 7) | (f3 << 12) | ((uint)rs1 << 15) | ((uint)(imm & 0xFFF) << 20);

    public static uint S(uint f3, int rs1, int rs2, int imm) =>
        0x23 | ((uint)(imm & 0x1F) << 7) | (f3 << 12) | ((uint)rs1 << 15) | ((uint)rs2 << 20) | ((uint)((imm >> 5) & 0x7F) << 25);

    public static uint B(uint f3, int rs1, int rs2, int offset) =>
        0x63 | ((uint)((offset >> 11) & 1) << 7) | ((uint)((offset >> 1) & 0xF) << 8) | (f3 << 12) | ((uint)rs1 << 15) | ((uint)rs2 << 20)
        | ((uint)((offset >> 5) & 0x3F) << 25) | ((uint)((offset >> 12) & 1) << 31);

    public static uint U(uint opcode, int rd, int imm20) => opcode | ((uint)rd << 7) | ((uint)(imm20 & 0xFFFFF) << 12);

    public static uint J(int rd, int offset) =>
        0x6F | ((uint)rd << 7) | ((uint)((offset >> 12) & 0xFF) << 12) | ((uint)((offset >> 11) & 1) << 20)
        | ((uint)((offset >> 1) & 0x3FF) << 21) | ((uint)((offset >> 20) & 1) << 31);

    public static uint Amo(uint funct5, bool doubleword, int rd, int rs1, int rs2) =>
        R(0x2F, doubleword ? 3u : 2u, funct5 << 2, rd, rs1, rs2);

    public static uint Csr(uint f3, int rd, int rs1, uint csr) => 0x73 | ((uint)rd << 7) | (f3 << 12) | ((uint)rs1 << 15) | (csr << 20);

    // ---- compressed (quadrant in the low 2 bits)

    /// <summary>CI format (C.ADDI, C.LI, C.ADDIW, C.SLLI): funct3, rd, a 6-bit immediate.</summary>
    public static ushort CI(uint f3, uint quadrant, int rd, int imm6) =>
        (ushort)(quadrant | ((uint)(imm6 & 0x1F) << 2) | ((uint)rd << 7) | ((uint)((imm6 >> 5) & 1) << 12) | (f3 << 13));

    /// <summary>C.MV (add=false) / C.ADD (add=true).</summary>
    public static ushort CR(bool add, int rd, int rs2) => (ushort)(2 | ((uint)rs2 << 2) | ((uint)rd << 7) | ((add ? 1u : 0u) << 12) | (4u << 13));

    /// <summary>C.SRLI (0), C.SRAI (1), C.ANDI (2) on rd' (x8-x15).</summary>
    public static ushort CB(uint kind, int rd, int imm6) =>
        (ushort)(1 | ((uint)(imm6 & 0x1F) << 2) | ((uint)(rd - 8) << 7) | (kind << 10) | ((uint)((imm6 >> 5) & 1) << 12) | (4u << 13));

    /// <summary>C.SUB/XOR/OR/AND (word=false, op 0-3) or C.SUBW/ADDW (word=true, op 0-1) on rd', rs2'.</summary>
    public static ushort CA(bool word, uint op, int rd, int rs2) =>
        (ushort)(1 | ((uint)(rs2 - 8) << 2) | (op << 5) | ((uint)(rd - 8) << 7) | (3u << 10) | ((word ? 1u : 0u) << 12) | (4u << 13));

    /// <summary>C.LDSP (offset multiple of 8, 0..504).</summary>
    public static ushort Ldsp(int rd, int offset) =>
        (ushort)(2 | ((uint)((offset >> 6) & 7) << 2) | ((uint)((offset >> 3) & 3) << 5) | ((uint)rd << 7) | ((uint)((offset >> 5) & 1) << 12) | (3u << 13));

    /// <summary>C.LWSP (offset multiple of 4, 0..252).</summary>
    public static ushort Lwsp(int rd, int offset) =>
        (ushort)(2 | ((uint)((offset >> 6) & 3) << 2) | ((uint)((offset >> 2) & 7) << 4) | ((uint)rd << 7) | ((uint)((offset >> 5) & 1) << 12) | (2u << 13));

    /// <summary>C.SDSP (offset multiple of 8, 0..504).</summary>
    public static ushort Sdsp(int rs2, int offset) =>
        (ushort)(2 | ((uint)rs2 << 2) | ((uint)((offset >> 6) & 7) << 7) | ((uint)((offset >> 3) & 7) << 10) | (7u << 13));

    /// <summary>C.SWSP (offset multiple of 4, 0..252).</summary>
    public static ushort Swsp(int rs2, int offset) =>
        (ushort)(2 | ((uint)rs2 << 2) | ((uint)((offset >> 6) & 3) << 7) | ((uint)((offset >> 2) & 0xF) << 9) | (6u << 13));

    /// <summary>C.BEQZ (bnez=false) / C.BNEZ on rs1' (x8-x15), offset even, -256..254.</summary>
    public static ushort CBranch(bool bnez, int rs1, int offset) =>
        (ushort)(1 | ((uint)((offset >> 5) & 1) << 2) | ((uint)((offset >> 1) & 3) << 3) | ((uint)((offset >> 6) & 3) << 5)
        | ((uint)(rs1 - 8) << 7) | ((uint)((offset >> 3) & 3) << 10) | ((uint)((offset >> 8) & 1) << 12) | ((bnez ? 7u : 6u) << 13));

    /// <summary>C.J, offset even, -2048..2046.</summary>
    public static ushort CJ(int offset) =>
        (ushort)(1 | ((uint)((offset >> 5) & 1) << 2) | ((uint)((offset >> 1) & 7) << 3) | ((uint)((offset >> 7) & 1) << 6)
        | ((uint)((offset >> 6) & 1) << 7) | ((uint)((offset >> 10) & 1) << 8) | ((uint)((offset >> 8) & 3) << 9)
        | ((uint)((offset >> 4) & 1) << 11) | ((uint)((offset >> 11) & 1) << 12) | (5u << 13));
}
