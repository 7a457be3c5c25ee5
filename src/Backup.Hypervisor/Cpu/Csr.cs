namespace Backup.Hypervisor.Cpu;

/// <summary>CSR numbers implemented by <see cref="Hart"/>.</summary>
internal static class Csr
{
    public const int Fflags = 0x001, Frm = 0x002, Fcsr = 0x003;

    public const int Cycle = 0xC00, Time = 0xC01, Instret = 0xC02, HpmCounter3 = 0xC03, HpmCounter31 = 0xC1F;

    public const int Sstatus = 0x100, Sie = 0x104, Stvec = 0x105, Scounteren = 0x106, Senvcfg = 0x10A;
    public const int Sscratch = 0x140, Sepc = 0x141, Scause = 0x142, Stval = 0x143, Sip = 0x144;
    public const int Stimecmp = 0x14D, Satp = 0x180;

    public const int Mvendorid = 0xF11, Marchid = 0xF12, Mimpid = 0xF13, Mhartid = 0xF14, Mconfigptr = 0xF15;
    public const int Mstatus = 0x300, Misa = 0x301, Medeleg = 0x302, Mideleg = 0x303, Mie = 0x304, Mtvec = 0x305;
    public const int Mcounteren = 0x306, Menvcfg = 0x30A, Mcountinhibit = 0x320;
    public const int Mhpmevent3 = 0x323, Mhpmevent31 = 0x33F;
    public const int Mscratch = 0x340, Mepc = 0x341, Mcause = 0x342, Mtval = 0x343, Mip = 0x344;
    public const int Mtinst = 0x34A, Mtval2 = 0x34B;
    public const int Pmpcfg0 = 0x3A0, Pmpcfg15 = 0x3AF, Pmpaddr0 = 0x3B0, Pmpaddr63 = 0x3EF;
    public const int Mseccfg = 0x747;
    public const int Mcycle = 0xB00, Minstret = 0xB02, Mhpmcounter3 = 0xB03, Mhpmcounter31 = 0xB1F;
    public const int Tselect = 0x7A0, Tdata1 = 0x7A1, Tdata2 = 0x7A2, Tdata3 = 0x7A3, Tinfo = 0x7A4;
}
