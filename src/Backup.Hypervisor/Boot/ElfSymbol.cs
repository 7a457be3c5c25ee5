namespace Backup.Hypervisor.Boot;

/// <summary>One entry of an ELF symbol table (SHT_SYMTAB).</summary>
/// <param name="Name">Symbol name from the linked string table ("" for unnamed symbols).</param>
/// <param name="Value">st_value: for executables, the symbol's virtual address.</param>
/// <param name="Size">st_size in bytes (0 when unknown).</param>
/// <param name="Info">st_info: binding in the high nibble, type in the low nibble.</param>
/// <param name="SectionIndex">st_shndx: defining section, 0 (SHN_UNDEF) for undefined symbols, 0xfff1 for absolute.</param>
public readonly record struct ElfSymbol(string Name, ulong Value, ulong Size, byte Info, ushort SectionIndex)
{
    /// <summary>STB_LOCAL.</summary>
    public const byte BindingLocal = 0;

    /// <summary>STB_GLOBAL.</summary>
    public const byte BindingGlobal = 1;

    /// <summary>STB_WEAK.</summary>
    public const byte BindingWeak = 2;

    /// <summary>Symbol binding (STB_*).</summary>
    public byte Binding => (byte)(Info >> 4);

    /// <summary>Symbol type (STT_*: 0 notype, 1 object, 2 func, 3 section, 4 file).</summary>
    public byte Type => (byte)(Info & 0xf);

    /// <summary>True unless the symbol is undefined (SHN_UNDEF).</summary>
    public bool IsDefined => SectionIndex != 0;
}
