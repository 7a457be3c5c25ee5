namespace Backup.Hypervisor.Translation.Decode;

/// <summary>One guest instruction of a block: its virtual address, its 32-bit form (RVC already expanded) and its length (2 or 4).</summary>
internal readonly record struct DecodedInstruction(ulong Pc, uint Inst, int Length)
{
    public ulong Next => Pc + (ulong)Length;

    public uint Opcode => Inst & 0x7F;

    public int Rd => (int)((Inst >> 7) & 31);

    public int Rs1 => (int)((Inst >> 15) & 31);

    public int Rs2 => (int)((Inst >> 20) & 31);

    public uint Funct3 => (Inst >> 12) & 7;

    public uint Funct7 => Inst >> 25;

    /// <summary>I-type immediate, sign-extended.</summary>
    public long ImmI => (int)Inst >> 20;

    /// <summary>S-type immediate, sign-extended.</summary>
    public long ImmS => ((long)(int)(Inst & 0xFE000000) >> 20) | ((Inst >> 7) & 31);

    /// <summary>B-type immediate, sign-extended.</summary>
    public long ImmB => ((long)((int)(Inst & 0x80000000) >> 19)) | ((Inst & 0x80) << 4) | ((Inst >> 20) & 0x7E0) | ((Inst >> 7) & 0x1E);

    /// <summary>J-type immediate, sign-extended.</summary>
    public long ImmJ => ((long)((int)(Inst & 0x80000000) >> 11)) | (Inst & 0xFF000) | ((Inst >> 9) & 0x800) | ((Inst >> 20) & 0x7FE);

    /// <summary>U-type immediate, sign-extended.</summary>
    public long ImmU => (int)(Inst & 0xFFFFF000);
}
