namespace Backup.Hypervisor.Cpu;

/// <summary>
/// Expands an RV64C instruction into its 32-bit equivalent (unprivileged spec, chapter "C" standard extension),
/// so one decoder executes both (C.FLD/C.FSD/C.FLDSP/C.FSDSP included). Returns 0 for reserved encodings.
/// </summary>
internal static class CompressedExpander
{
    public static uint Expand(uint c)
    {
        uint f3 = (c >> 13) & 7;
        uint rdFull = (c >> 7) & 31;
        uint rs2Full = (c >> 2) & 31;
        uint rdP = ((c >> 2) & 7) + 8;
        uint rs1P = ((c >> 7) & 7) + 8;

        switch (c & 3)
        {
            case 0:
                switch (f3)
                {
                    case 0: // C.ADDI4SPN
                    {
                        uint imm = (((c >> 11) & 3) << 4) | (((c >> 7) & 15) << 6) | (((c >> 6) & 1) << 2) | (((c >> 5) & 1) << 3);
                        return imm == 0 ? 0 : IType(imm, 2, 0, rdP, 0x13);
                    }

                    case 1: // C.FLD
                        return IType(LdOffset(c), rs1P, 3, rdP, 0x07);
                    case 2: // C.LW
                        return IType(LwOffset(c), rs1P, 2, rdP, 0x03);
                    case 3: // C.LD
                        return IType(LdOffset(c), rs1P, 3, rdP, 0x03);
                    case 5: // C.FSD
                        return SType(LdOffset(c), rdP, rs1P, 3, 0x27);
                    case 6: // C.SW
                        return SType(LwOffset(c), rdP, rs1P, 2, 0x23);
                    case 7: // C.SD
                        return SType(LdOffset(c), rdP, rs1P, 3, 0x23);
                    default:
                        return 0; // reserved
                }

            case 1:
                switch (f3)
                {
                    case 0: // C.ADDI / C.NOP
                        return IType(Imm6(c), rdFull, 0, rdFull, 0x13);
                    case 1: // C.ADDIW
                        return rdFull == 0 ? 0 : IType(Imm6(c), rdFull, 0, rdFull, 0x1B);
                    case 2: // C.LI
                        return IType(Imm6(c), 0, 0, rdFull, 0x13);
                    case 3:
                        if (rdFull == 2)
                        {
                            // C.ADDI16SP: nzimm[9|4|6|8:7|5] = c[12|6|5|4:3|2]
                            uint imm = (((c >> 12) & 1) << 9) | (((c >> 6) & 1) << 4) | (((c >> 5) & 1) << 6) | (((c >> 3) & 3) << 7) | (((c >> 2) & 1) << 5);
                            if (imm == 0)
                            {
                                return 0;
                            }

                            return IType(SignExtend(imm, 10), 2, 0, 2, 0x13);
                        }
                        else
                        {
                            // C.LUI: nzimm[17|16:12]
                            uint imm = (((c >> 12) & 1) << 17) | (((c >> 2) & 31) << 12);
                            if (imm == 0)
                            {
                                return 0;
                            }

                            return (SignExtend(imm, 18) & 0xFFFFF000) | (rdFull << 7) | 0x37;
                        }

                    case 4:
                    {
                        uint shamt = (((c >> 12) & 1) << 5) | ((c >> 2) & 31);
                        switch ((c >> 10) & 3)
                        {
                            case 0: return IType(shamt, rs1P, 5, rs1P, 0x13); // C.SRLI
                            case 1: return IType(shamt | 0x400, rs1P, 5, rs1P, 0x13); // C.SRAI
                            case 2: return IType(Imm6(c), rs1P, 7, rs1P, 0x13); // C.ANDI
                            default:
                            {
                                uint rs2P = rdP;
                                uint sel = (c >> 5) & 3;
                                if (((c >> 12) & 1) == 0)
                                {
                                    return sel switch
                                    {
                                        0 => RType(0x20, rs2P, rs1P, 0, rs1P, 0x33), // C.SUB
                                        1 => RType(0, rs2P, rs1P, 4, rs1P, 0x33), // C.XOR
                                        2 => RType(0, rs2P, rs1P, 6, rs1P, 0x33), // C.OR
                                        _ => RType(0, rs2P, rs1P, 7, rs1P, 0x33), // C.AND
                                    };
                                }

                                return sel switch
                                {
                                    0 => RType(0x20, rs2P, rs1P, 0, rs1P, 0x3B), // C.SUBW
                                    1 => RType(0, rs2P, rs1P, 0, rs1P, 0x3B), // C.ADDW
                                    _ => 0,
                                };
                            }
                        }
                    }

                    case 5: // C.J
                        return JType(JOffset(c), 0);
                    case 6: // C.BEQZ
                        return BType(BOffset(c), 0, rs1P, 0);
                    default: // C.BNEZ
                        return BType(BOffset(c), 0, rs1P, 1);
                }

            case 2:
                switch (f3)
                {
                    case 0: // C.SLLI
                    {
                        uint shamt = (((c >> 12) & 1) << 5) | ((c >> 2) & 31);
                        return IType(shamt, rdFull, 1, rdFull, 0x13);
                    }

                    case 1: // C.FLDSP (f0 is a valid destination)
                        return IType(LdspOffset(c), 2, 3, rdFull, 0x07);
                    case 2: // C.LWSP
                    {
                        uint imm = (((c >> 12) & 1) << 5) | (((c >> 4) & 7) << 2) | (((c >> 2) & 3) << 6);
                        return rdFull == 0 ? 0 : IType(imm, 2, 2, rdFull, 0x03);
                    }

                    case 3: // C.LDSP
                        return rdFull == 0 ? 0 : IType(LdspOffset(c), 2, 3, rdFull, 0x03);

                    case 4:
                        if (((c >> 12) & 1) == 0)
                        {
                            if (rs2Full == 0)
                            {
                                return rdFull == 0 ? 0 : IType(0, rdFull, 0, 0, 0x67); // C.JR
                            }

                            return RType(0, rs2Full, 0, 0, rdFull, 0x33); // C.MV
                        }

                        if (rs2Full == 0)
                        {
                            return rdFull == 0 ? 0x00100073u /* EBREAK */ : IType(0, rdFull, 0, 1, 0x67); // C.JALR
                        }

                        return RType(0, rs2Full, rdFull, 0, rdFull, 0x33); // C.ADD
                    case 5: // C.FSDSP
                        return SType(SdspOffset(c), rs2Full, 2, 3, 0x27);
                    case 6: // C.SWSP
                    {
                        uint imm = (((c >> 9) & 15) << 2) | (((c >> 7) & 3) << 6);
                        return SType(imm, rs2Full, 2, 2, 0x23);
                    }

                    default: // C.SDSP
                        return SType(SdspOffset(c), rs2Full, 2, 3, 0x23);
                }

            default:
                return 0;
        }
    }

    private static uint LwOffset(uint c) => (((c >> 10) & 7) << 3) | (((c >> 6) & 1) << 2) | (((c >> 5) & 1) << 6);

    private static uint LdOffset(uint c) => (((c >> 10) & 7) << 3) | (((c >> 5) & 3) << 6);

    private static uint LdspOffset(uint c) => (((c >> 12) & 1) << 5) | (((c >> 5) & 3) << 3) | (((c >> 2) & 7) << 6);

    private static uint SdspOffset(uint c) => (((c >> 10) & 7) << 3) | (((c >> 7) & 7) << 6);

    private static uint Imm6(uint c) => SignExtend((((c >> 12) & 1) << 5) | ((c >> 2) & 31), 6);

    private static uint JOffset(uint c)
    {
        // offset[11|4|9:8|10|6|7|3:1|5] = c[12|11|10:9|8|7|6|5:3|2]
        uint imm = (((c >> 12) & 1) << 11) | (((c >> 11) & 1) << 4) | (((c >> 9) & 3) << 8) | (((c >> 8) & 1) << 10)
                 | (((c >> 7) & 1) << 6) | (((c >> 6) & 1) << 7) | (((c >> 3) & 7) << 1) | (((c >> 2) & 1) << 5);
        return SignExtend(imm, 12);
    }

    private static uint BOffset(uint c)
    {
        // offset[8|4:3] = c[12|11:10]; offset[7:6|2:1|5] = c[6:5|4:3|2]
        uint imm = (((c >> 12) & 1) << 8) | (((c >> 10) & 3) << 3) | (((c >> 5) & 3) << 6) | (((c >> 3) & 3) << 1) | (((c >> 2) & 1) << 5);
        return SignExtend(imm, 9);
    }

    private static uint SignExtend(uint value, int bits) => (uint)((int)(value << (32 - bits)) >> (32 - bits));

    private static uint IType(uint imm, uint rs1, uint f3, uint rd, uint op) => (imm << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op;

    private static uint SType(uint imm, uint rs2, uint rs1, uint f3, uint op) =>
        (((imm >> 5) & 0x7F) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 31) << 7) | op;

    private static uint RType(uint f7, uint rs2, uint rs1, uint f3, uint rd, uint op) =>
        (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op;

    private static uint BType(uint imm, uint rs2, uint rs1, uint f3) =>
        (((imm >> 12) & 1) << 31) | (((imm >> 5) & 0x3F) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12)
        | (((imm >> 1) & 15) << 8) | (((imm >> 11) & 1) << 7) | 0x63;

    private static uint JType(uint imm, uint rd) =>
        (((imm >> 20) & 1) << 31) | (((imm >> 1) & 0x3FF) << 21) | (((imm >> 11) & 1) << 20) | (((imm >> 12) & 0xFF) << 12) | (rd << 7) | 0x6F;
}
