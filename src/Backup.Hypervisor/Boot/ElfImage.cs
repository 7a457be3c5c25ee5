using System.Buffers.Binary;
using System.Text;
using Backup.Hypervisor.Memory;

namespace Backup.Hypervisor.Boot;

/// <summary>
/// A parsed ELF64 little-endian RISC-V executable (e_machine EM_RISCV = 243, e_type ET_EXEC): entry point,
/// PT_LOAD segments and the symbol table (SHT_SYMTAB with its linked string table) so a loader can find symbols
/// such as <c>tohost</c>/<c>fromhost</c>. Every offset and size is checked against the file before it is used; a
/// malformed file raises <see cref="ElfFormatException"/> naming the file and the problem.
/// </summary>
public sealed class ElfImage
{
    /// <summary>EM_RISCV.</summary>
    public const ushort MachineRiscV = 243;

    /// <summary>ET_EXEC.</summary>
    public const ushort TypeExecutable = 2;

    /// <summary>Size of the ELF64 file header.</summary>
    public const int HeaderSize = 64;

    /// <summary>Size of an ELF64 program header.</summary>
    public const int ProgramHeaderSize = 56;

    /// <summary>Size of an ELF64 section header.</summary>
    public const int SectionHeaderSize = 64;

    /// <summary>Size of an ELF64 symbol table entry.</summary>
    public const int SymbolSize = 24;

    /// <summary>Largest accepted p_memsz (1 TiB); anything larger is treated as corrupt.</summary>
    public const ulong MaxSegmentSize = 1UL << 40;

    private const uint PtLoad = 1;
    private const uint ShtSymtab = 2;
    private const uint ShtStrtab = 3;
    private const uint ShtNobits = 8;
    private const ushort PnXnum = 0xffff;

    private readonly Dictionary<string, ElfSymbol> _symbolsByName;

    private ElfImage(string sourceName, ushort type, uint flags, ulong entry, IReadOnlyList<ElfSegment> segments, IReadOnlyList<ElfSymbol> symbols)
    {
        SourceName = sourceName;
        Type = type;
        Flags = flags;
        Entry = entry;
        Segments = segments;
        Symbols = symbols;
        _symbolsByName = new Dictionary<string, ElfSymbol>(StringComparer.Ordinal);
        foreach (var symbol in symbols)
        {
            // Section (STT_SECTION 3) and file (STT_FILE 4) symbols name no object in the program.
            if (symbol.Name.Length == 0 || !symbol.IsDefined || symbol.Type is 3 or 4)
            {
                continue;
            }

            // Prefer global/weak definitions over locals of the same name; otherwise the first one wins.
            if (!_symbolsByName.TryGetValue(symbol.Name, out var existing)
                || (existing.Binding == ElfSymbol.BindingLocal && symbol.Binding != ElfSymbol.BindingLocal))
            {
                _symbolsByName[symbol.Name] = symbol;
            }
        }
    }

    /// <summary>The file name (or description) used in error messages.</summary>
    public string SourceName { get; }

    /// <summary>e_type (always <see cref="TypeExecutable"/> for an accepted file).</summary>
    public ushort Type { get; }

    /// <summary>e_flags (RISC-V: bit 0 RVC, bits 1-2 float ABI, bit 3 RVE, bit 4 TSO).</summary>
    public uint Flags { get; }

    /// <summary>e_entry: the address execution starts at.</summary>
    public ulong Entry { get; }

    /// <summary>The PT_LOAD segments in program-header order (empty segments with p_memsz 0 are left out).</summary>
    public IReadOnlyList<ElfSegment> Segments { get; }

    /// <summary>All entries of the symbol table, in file order (empty when the file is stripped).</summary>
    public IReadOnlyList<ElfSymbol> Symbols { get; }

    /// <summary>Lowest guest-physical address any segment occupies.</summary>
    public ulong PhysicalStart => Segments.Count == 0 ? 0 : Segments.Min(s => s.PhysicalAddress);

    /// <summary>One past the highest guest-physical address any segment occupies.</summary>
    public ulong PhysicalEnd => Segments.Count == 0 ? 0 : Segments.Max(s => s.PhysicalEnd);

    /// <summary>Reads and parses the ELF file at <paramref name="path"/>.</summary>
    public static ElfImage Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Parse(File.ReadAllBytes(path), path);
    }

    /// <summary>
    /// Parses an ELF image held in memory. Segment bytes are views of <paramref name="data"/>, which must not be
    /// modified afterwards. <paramref name="sourceName"/> names the data in error messages.
    /// </summary>
    public static ElfImage Parse(byte[] data, string sourceName = "<memory>")
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(sourceName);
        return new Parser(data, sourceName).Run();
    }

    /// <summary>Looks up a defined symbol by exact name (global/weak definitions win over local ones).</summary>
    public bool TryGetSymbol(string name, out ElfSymbol symbol) => _symbolsByName.TryGetValue(name, out symbol);

    /// <summary>Looks up a defined symbol by exact name; throws <see cref="KeyNotFoundException"/> when absent.</summary>
    public ElfSymbol GetSymbol(string name)
    {
        if (!TryGetSymbol(name, out var symbol))
        {
            var why = Symbols.Count == 0 ? "the file has no symbol table (stripped?)" : "no defined symbol has that name";
            throw new KeyNotFoundException($"{SourceName}: symbol '{name}' not found: {why}");
        }

        return symbol;
    }

    /// <summary>
    /// Copies every segment to its physical address in <paramref name="ram"/> and zero-fills its bss part.
    /// All segments are checked first: if any falls outside RAM nothing is written and an
    /// <see cref="ArgumentException"/> names the segment, its range and the RAM range.
    /// </summary>
    public void LoadInto(GuestRam ram)
    {
        ArgumentNullException.ThrowIfNull(ram);
        foreach (var segment in Segments)
        {
            if (!ram.Contains(segment.PhysicalAddress, segment.MemorySize))
            {
                throw new ArgumentException(
                    $"{SourceName}: segment {segment} [0x{segment.PhysicalAddress:x}, 0x{segment.PhysicalEnd:x}) does not fit in guest RAM [0x{ram.Base:x}, 0x{ram.Base + ram.Size:x})",
                    nameof(ram));
            }
        }

        foreach (var segment in Segments)
        {
            ram.Write(segment.PhysicalAddress, segment.FileBytes.Span);
            var zeroAt = segment.PhysicalAddress + segment.FileSize;
            var remaining = segment.MemorySize - segment.FileSize;
            while (remaining > 0)
            {
                var chunk = (int)Math.Min(remaining, 1UL << 30);
                if (!ram.TryGetWritableSpan(zeroAt, chunk, out var span))
                {
                    throw new InvalidOperationException($"{SourceName}: bss of {segment} left guest RAM while zero-filling");
                }

                span.Clear();
                zeroAt += (ulong)chunk;
                remaining -= (ulong)chunk;
            }
        }
    }

    /// <summary>One parse of one buffer; keeps the source name for error messages.</summary>
    private sealed class Parser(byte[] data, string sourceName)
    {
        private readonly byte[] _data = data;
        private readonly string _source = sourceName;

        public ElfImage Run()
        {
            if (_data.Length >= 4 && !_data.AsSpan(0, 4).SequenceEqual("\u007fELF"u8))
            {
                throw Error($"not an ELF file (magic {_data[0]:x2} {_data[1]:x2} {_data[2]:x2} {_data[3]:x2}, expected 7f 45 4c 46)");
            }

            if (_data.Length < HeaderSize)
            {
                throw Error($"truncated: {_data.Length} bytes, but an ELF64 header needs {HeaderSize}");
            }

            if (_data[4] != 2)
            {
                throw Error(_data[4] == 1 ? "ELF32 file; only ELF64 (RV64) is supported" : $"invalid EI_CLASS {_data[4]}; expected 2 (ELF64)");
            }

            if (_data[5] != 1)
            {
                throw Error(_data[5] == 2 ? "big-endian ELF; RISC-V images are little-endian" : $"invalid EI_DATA {_data[5]}; expected 1 (little-endian)");
            }

            if (_data[6] != 1)
            {
                throw Error($"unsupported EI_VERSION {_data[6]}; expected 1");
            }

            var span = _data.AsSpan();
            var type = BinaryPrimitives.ReadUInt16LittleEndian(span[16..]);
            var machine = BinaryPrimitives.ReadUInt16LittleEndian(span[18..]);
            var version = BinaryPrimitives.ReadUInt32LittleEndian(span[20..]);
            var entry = BinaryPrimitives.ReadUInt64LittleEndian(span[24..]);
            var phoff = BinaryPrimitives.ReadUInt64LittleEndian(span[32..]);
            var shoff = BinaryPrimitives.ReadUInt64LittleEndian(span[40..]);
            var flags = BinaryPrimitives.ReadUInt32LittleEndian(span[48..]);
            var ehsize = BinaryPrimitives.ReadUInt16LittleEndian(span[52..]);
            var phentsize = BinaryPrimitives.ReadUInt16LittleEndian(span[54..]);
            var phnum = (ulong)BinaryPrimitives.ReadUInt16LittleEndian(span[56..]);
            var shentsize = BinaryPrimitives.ReadUInt16LittleEndian(span[58..]);
            var shnum = (ulong)BinaryPrimitives.ReadUInt16LittleEndian(span[60..]);

            if (machine != MachineRiscV)
            {
                throw Error($"e_machine is {machine} ({MachineName(machine)}), not RISC-V ({MachineRiscV})");
            }

            if (type != TypeExecutable)
            {
                throw Error($"e_type is {type} ({TypeName(type)}); only executables (ET_EXEC, 2) can be loaded");
            }

            if (version != 1)
            {
                throw Error($"unsupported e_version {version}; expected 1");
            }

            if (ehsize < HeaderSize)
            {
                throw Error($"e_ehsize {ehsize} is smaller than the ELF64 header ({HeaderSize})");
            }

            // Extended numbering: counts that do not fit 16 bits live in section header 0.
            if (shoff != 0 && (shnum == 0 || phnum == PnXnum))
            {
                CheckSectionHeaderSize(shentsize);
                var sh0 = Table(shoff, 1, SectionHeaderSize, "section header 0 (extended numbering)");
                if (shnum == 0)
                {
                    shnum = BinaryPrimitives.ReadUInt64LittleEndian(sh0[32..]);
                }

                if (phnum == PnXnum)
                {
                    phnum = BinaryPrimitives.ReadUInt32LittleEndian(sh0[44..]);
                }
            }

            if (phnum == 0)
            {
                throw Error("no program headers: nothing to load");
            }

            if (phentsize != ProgramHeaderSize)
            {
                throw Error($"e_phentsize is {phentsize}; ELF64 program headers are {ProgramHeaderSize} bytes");
            }

            var phdrs = Table(phoff, phnum, ProgramHeaderSize, "program header table");
            var segments = ReadSegments(phdrs, (int)phnum);
            var symbols = shoff == 0 || shnum == 0 ? [] : ReadSymbols(shoff, shnum, shentsize);
            return new ElfImage(_source, type, flags, entry, segments, symbols);
        }

        private static string MachineName(ushort machine) => machine switch
        {
            0 => "EM_NONE",
            3 => "x86",
            8 => "MIPS",
            40 => "ARM",
            62 => "x86-64",
            183 => "AArch64",
            _ => "unknown",
        };

        private static string TypeName(ushort type) => type switch
        {
            0 => "ET_NONE",
            1 => "ET_REL, an object file that still needs linking",
            3 => "ET_DYN, shared object or position-independent executable",
            4 => "ET_CORE, a core dump",
            _ => "unknown",
        };

        private List<ElfSegment> ReadSegments(ReadOnlySpan<byte> phdrs, int count)
        {
            var segments = new List<ElfSegment>();
            for (var i = 0; i < count; i++)
            {
                var ph = phdrs.Slice(i * ProgramHeaderSize, ProgramHeaderSize);
                if (BinaryPrimitives.ReadUInt32LittleEndian(ph) != PtLoad)
                {
                    continue;
                }

                var pflags = BinaryPrimitives.ReadUInt32LittleEndian(ph[4..]);
                var offset = BinaryPrimitives.ReadUInt64LittleEndian(ph[8..]);
                var vaddr = BinaryPrimitives.ReadUInt64LittleEndian(ph[16..]);
                var paddr = BinaryPrimitives.ReadUInt64LittleEndian(ph[24..]);
                var filesz = BinaryPrimitives.ReadUInt64LittleEndian(ph[32..]);
                var memsz = BinaryPrimitives.ReadUInt64LittleEndian(ph[40..]);
                var align = BinaryPrimitives.ReadUInt64LittleEndian(ph[48..]);
                var what = $"PT_LOAD segment #{i}";

                if (filesz > memsz)
                {
                    throw Error($"{what}: p_filesz 0x{filesz:x} exceeds p_memsz 0x{memsz:x}");
                }

                if (memsz > MaxSegmentSize)
                {
                    throw Error($"{what}: p_memsz 0x{memsz:x} is absurdly large (limit 0x{MaxSegmentSize:x})");
                }

                if (offset > (ulong)_data.Length || filesz > (ulong)_data.Length - offset)
                {
                    throw Error($"{what}: file range [0x{offset:x}, +0x{filesz:x}) lies outside the file ({_data.Length} bytes)");
                }

                if (memsz != 0 && (memsz - 1 > ulong.MaxValue - paddr || memsz - 1 > ulong.MaxValue - vaddr))
                {
                    throw Error($"{what}: [0x{paddr:x}, +0x{memsz:x}) wraps around the 64-bit address space");
                }

                if (align > 1 && (align & (align - 1)) != 0)
                {
                    throw Error($"{what}: p_align 0x{align:x} is not a power of two");
                }

                if (memsz == 0)
                {
                    continue;
                }

                foreach (var other in segments)
                {
                    if (paddr - other.PhysicalAddress < other.MemorySize || other.PhysicalAddress - paddr < memsz)
                    {
                        throw Error($"{what} [0x{paddr:x}, +0x{memsz:x}) overlaps {other} in physical memory");
                    }
                }

                var bytes = new ReadOnlyMemory<byte>(_data, (int)offset, (int)filesz);
                segments.Add(new ElfSegment(i, paddr, vaddr, offset, bytes, memsz, pflags, align));
            }

            if (segments.Count == 0)
            {
                throw Error("no non-empty PT_LOAD segment: nothing to load");
            }

            return segments;
        }

        private List<ElfSymbol> ReadSymbols(ulong shoff, ulong shnum, ushort shentsize)
        {
            CheckSectionHeaderSize(shentsize);
            if (shnum > (ulong)_data.Length / SectionHeaderSize)
            {
                throw Error($"section header count {shnum} cannot fit in a file of {_data.Length} bytes");
            }

            var shdrs = Table(shoff, shnum, SectionHeaderSize, "section header table");
            var symbols = new List<ElfSymbol>();
            for (var i = 0; i < (int)shnum; i++)
            {
                var sh = shdrs.Slice(i * SectionHeaderSize, SectionHeaderSize);
                if (BinaryPrimitives.ReadUInt32LittleEndian(sh[4..]) != ShtSymtab)
                {
                    continue;
                }

                var what = $"symbol table (section {i})";
                var offset = BinaryPrimitives.ReadUInt64LittleEndian(sh[24..]);
                var size = BinaryPrimitives.ReadUInt64LittleEndian(sh[32..]);
                var link = BinaryPrimitives.ReadUInt32LittleEndian(sh[40..]);
                var entsize = BinaryPrimitives.ReadUInt64LittleEndian(sh[56..]);
                if (entsize != SymbolSize)
                {
                    throw Error($"{what}: sh_entsize {entsize}; ELF64 symbols are {SymbolSize} bytes");
                }

                if (size % SymbolSize != 0)
                {
                    throw Error($"{what}: size 0x{size:x} is not a multiple of {SymbolSize}");
                }

                var table = Table(offset, size / SymbolSize, SymbolSize, what);
                if (link == 0 || link >= shnum)
                {
                    throw Error($"{what}: sh_link {link} does not name a string table section (have {shnum} sections)");
                }

                var strtabHeader = shdrs.Slice((int)link * SectionHeaderSize, SectionHeaderSize);
                var strtabType = BinaryPrimitives.ReadUInt32LittleEndian(strtabHeader[4..]);
                if (strtabType != ShtStrtab)
                {
                    throw Error($"{what}: linked section {link} has type {strtabType}{(strtabType == ShtNobits ? " (NOBITS)" : string.Empty)}, not SHT_STRTAB");
                }

                var strtab = Table(
                    BinaryPrimitives.ReadUInt64LittleEndian(strtabHeader[24..]),
                    BinaryPrimitives.ReadUInt64LittleEndian(strtabHeader[32..]),
                    1,
                    $"string table (section {link})");

                for (var s = 0; s < table.Length / SymbolSize; s++)
                {
                    var sym = table.Slice(s * SymbolSize, SymbolSize);
                    var nameOffset = BinaryPrimitives.ReadUInt32LittleEndian(sym);
                    symbols.Add(new ElfSymbol(
                        ReadString(strtab, nameOffset, $"{what}, symbol {s}"),
                        BinaryPrimitives.ReadUInt64LittleEndian(sym[8..]),
                        BinaryPrimitives.ReadUInt64LittleEndian(sym[16..]),
                        sym[4],
                        BinaryPrimitives.ReadUInt16LittleEndian(sym[6..])));
                }
            }

            return symbols;
        }

        private string ReadString(ReadOnlySpan<byte> strtab, uint offset, string what)
        {
            if (offset >= (uint)strtab.Length)
            {
                if (offset == 0)
                {
                    return string.Empty;
                }

                throw Error($"{what}: name offset {offset} is outside the string table ({strtab.Length} bytes)");
            }

            var rest = strtab[(int)offset..];
            var nul = rest.IndexOf((byte)0);
            if (nul < 0)
            {
                throw Error($"{what}: name at offset {offset} is not NUL-terminated within the string table");
            }

            return Encoding.UTF8.GetString(rest[..nul]);
        }

        private void CheckSectionHeaderSize(ushort shentsize)
        {
            if (shentsize != SectionHeaderSize)
            {
                throw Error($"e_shentsize is {shentsize}; ELF64 section headers are {SectionHeaderSize} bytes");
            }
        }

        /// <summary>A bounds-checked view of <paramref name="count"/> entries of <paramref name="entrySize"/> bytes.</summary>
        private ReadOnlySpan<byte> Table(ulong offset, ulong count, int entrySize, string what)
        {
            var length = (ulong)_data.Length;
            if (count > length / (ulong)entrySize || offset > length || count * (ulong)entrySize > length - offset)
            {
                throw Error($"{what} [offset 0x{offset:x}, {count} x {entrySize} bytes] lies outside the file ({_data.Length} bytes; truncated or corrupt)");
            }

            return _data.AsSpan((int)offset, (int)(count * (ulong)entrySize));
        }

        private ElfFormatException Error(string problem) => new(_source, problem);
    }
}
