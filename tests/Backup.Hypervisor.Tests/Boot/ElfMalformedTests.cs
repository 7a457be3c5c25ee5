using System.Buffers.Binary;
using Backup.Hypervisor.Boot;
using Backup.Hypervisor.Memory;

namespace Backup.Hypervisor.Tests.Boot;

public class ElfMalformedTests
{
    private static TestProgram Program => TestProgram.Instance;

    private static string Rejects(byte[] data, string fragment)
    {
        var ex = Assert.Throws<ElfFormatException>(() => ElfImage.Parse(data, "bad.elf"));
        Assert.StartsWith("bad.elf: ", ex.Message);
        Assert.Contains(fragment, ex.Message);
        return ex.Message;
    }

    /// <summary>File offset of the program header of the <paramref name="n"/>th PT_LOAD.</summary>
    private static int LoadHeader(byte[] elf, int n)
    {
        var phoff = (int)BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan(32));
        var phnum = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(56));
        for (var i = 0; i < phnum; i++)
        {
            var at = phoff + (i * 56);
            if (BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan(at)) == 1 && n-- == 0)
            {
                return at;
            }
        }

        throw new InvalidOperationException("not enough PT_LOAD headers");
    }

    private static int SymtabHeader(byte[] elf)
    {
        var shoff = (int)BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan(40));
        var shnum = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(60));
        for (var i = 0; i < shnum; i++)
        {
            if (BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan(shoff + (i * 64) + 4)) == 2)
            {
                return shoff + (i * 64);
            }
        }

        throw new InvalidOperationException("no symbol table");
    }

    [Fact]
    public void Short_and_foreign_files_are_rejected()
    {
        Rejects([], "truncated: 0 bytes");
        var truncated = new byte[40];
        "\u007fELF"u8.CopyTo(truncated);
        Rejects(truncated, "truncated: 40 bytes, but an ELF64 header needs 64");
        Rejects(new byte[40], "not an ELF file (magic 00 00 00 00");
        Rejects("#!/bin/sh\necho this is not an ELF file at all, honestly....\n"u8.ToArray(), "not an ELF file");
    }

    [RiscvToolchainFact]
    public void Header_only_file_has_its_program_headers_outside()
    {
        Rejects(Program.Elf[..64], "program header table");
    }

    [RiscvToolchainFact]
    public void Wrong_class_endianness_and_machine_are_named()
    {
        var elf = Program.CopyOfElf();
        elf[4] = 1;
        Rejects(elf, "ELF32 file");

        elf = Program.CopyOfElf();
        elf[5] = 2;
        Rejects(elf, "big-endian ELF");

        elf = Program.CopyOfElf();
        BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan(18), 62);
        Assert.Equal("bad.elf: e_machine is 62 (x86-64), not RISC-V (243)", Rejects(elf, "e_machine"));

        elf = Program.CopyOfElf();
        BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan(16), 3);
        Rejects(elf, "ET_DYN");
    }

    [RiscvToolchainFact]
    public void Segment_bytes_past_the_end_of_the_file_are_rejected()
    {
        var elf = Program.CopyOfElf();
        var ph = LoadHeader(elf, 0);
        BinaryPrimitives.WriteUInt64LittleEndian(elf.AsSpan(ph + 8), (ulong)elf.Length + 100);
        Rejects(elf, "PT_LOAD segment #");
        Rejects(elf, "lies outside the file");

        elf = Program.CopyOfElf();
        BinaryPrimitives.WriteUInt64LittleEndian(elf.AsSpan(ph + 8), ulong.MaxValue - 4); // offset + size overflows
        Rejects(elf, "lies outside the file");
    }

    [RiscvToolchainFact]
    public void Huge_program_header_counts_are_rejected()
    {
        var elf = Program.CopyOfElf();
        BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan(56), 0xfffe);
        Rejects(elf, "program header table [offset 0x40, 65534 x 56 bytes] lies outside the file");

        // PN_XNUM: the real count comes from section header 0's sh_info.
        elf = Program.CopyOfElf();
        BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan(56), 0xffff);
        var shoff = (int)BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan(40));
        BinaryPrimitives.WriteUInt32LittleEndian(elf.AsSpan(shoff + 44), 0xffff_fff0);
        Rejects(elf, "program header table");
    }

    [RiscvToolchainFact]
    public void Inconsistent_segment_sizes_are_rejected()
    {
        var elf = Program.CopyOfElf();
        var ph = LoadHeader(elf, 2);
        BinaryPrimitives.WriteUInt64LittleEndian(elf.AsSpan(ph + 40), 4); // memsz < filesz 8
        Rejects(elf, "p_filesz 0x8 exceeds p_memsz 0x4");

        elf = Program.CopyOfElf();
        BinaryPrimitives.WriteUInt64LittleEndian(elf.AsSpan(ph + 40), 1UL << 50);
        Rejects(elf, "absurdly large");

        elf = Program.CopyOfElf();
        BinaryPrimitives.WriteUInt64LittleEndian(elf.AsSpan(ph + 24), ulong.MaxValue - 0x10);
        Rejects(elf, "wraps around");

        elf = Program.CopyOfElf();
        BinaryPrimitives.WriteUInt64LittleEndian(elf.AsSpan(ph + 24), TestProgram.ToHostBase + 0x20);
        Rejects(elf, "overlaps PT_LOAD #");
    }

    [RiscvToolchainFact]
    public void Broken_section_and_symbol_tables_are_rejected()
    {
        var elf = Program.CopyOfElf();
        BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan(60), 0xfff0);
        Rejects(elf, "section header");

        elf = Program.CopyOfElf();
        var symtab = SymtabHeader(elf);
        BinaryPrimitives.WriteUInt32LittleEndian(elf.AsSpan(symtab + 40), 200);
        Rejects(elf, "sh_link 200");

        elf = Program.CopyOfElf();
        BinaryPrimitives.WriteUInt32LittleEndian(elf.AsSpan(symtab + 40), 1); // .text, not a string table
        Rejects(elf, "not SHT_STRTAB");

        elf = Program.CopyOfElf();
        BinaryPrimitives.WriteUInt64LittleEndian(elf.AsSpan(symtab + 32), 0x1_0000 * 24UL);
        Rejects(elf, "symbol table");

        elf = Program.CopyOfElf();
        var firstSymbolName = (int)BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan(symtab + 24)) + 24; // symbol 1
        BinaryPrimitives.WriteUInt32LittleEndian(elf.AsSpan(firstSymbolName), 0x7fff_0000);
        Rejects(elf, "outside the string table");
    }

    [RiscvToolchainFact]
    public void Every_truncation_gives_a_format_error_never_a_crash()
    {
        var elf = Program.Elf;
        for (var length = 0; length < elf.Length; length++)
        {
            try
            {
                ElfImage.Parse(elf[..length], "cut.elf");
            }
            catch (ElfFormatException)
            {
            }
        }
    }

    [RiscvToolchainFact]
    public void Random_corruption_gives_a_format_error_never_a_crash()
    {
        var random = new Random(12345);
        var elf = Program.Elf;
        var shoff = (int)BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan(40));
        using var ram = new GuestRam(0x8000_0000, 64 * 1024);
        for (var iteration = 0; iteration < 3000; iteration++)
        {
            var copy = (byte[])elf.Clone();
            var flips = random.Next(1, 5);
            for (var f = 0; f < flips; f++)
            {
                // Aim at the structures: file header, program headers, section headers and symbol/string tables.
                var at = random.Next(3) switch
                {
                    0 => random.Next(0, 0x120),
                    1 => random.Next(shoff, copy.Length),
                    _ => random.Next(0, copy.Length),
                };
                copy[at] = (byte)random.Next(256);
            }

            try
            {
                var image = ElfImage.Parse(copy, "fuzz.elf");
                try
                {
                    image.LoadInto(ram);
                }
                catch (ArgumentException)
                {
                }
            }
            catch (ElfFormatException)
            {
            }
        }
    }
}
