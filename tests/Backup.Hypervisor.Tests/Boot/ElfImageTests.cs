using System.Buffers.Binary;
using Backup.Hypervisor.Boot;
using Backup.Hypervisor.Memory;

namespace Backup.Hypervisor.Tests.Boot;

public class ElfImageTests
{
    private static TestProgram Program => TestProgram.Instance;

    [RiscvToolchainFact]
    public void Header_entry_and_segments_match_the_link()
    {
        var elf = ElfImage.Parse(Program.Elf, "prog.elf");

        Assert.Equal(TestProgram.TextBase, elf.Entry);
        Assert.Equal(ElfImage.TypeExecutable, elf.Type);
        Assert.Equal(1u, elf.Flags & 1); // RVC: assembled for rv64imac
        Assert.Equal(3, elf.Segments.Count);

        var text = elf.Segments[0];
        Assert.Equal(TestProgram.TextBase, text.PhysicalAddress);
        Assert.Equal(TestProgram.TextBase, text.VirtualAddress);
        Assert.Equal((ulong)Program.TextBytes.Length, text.FileSize);
        Assert.Equal(text.FileSize, text.MemorySize);
        Assert.True(text.IsExecutable);
        Assert.False(text.IsWritable);
        Assert.Equal(Program.TextBytes, text.FileBytes.ToArray());

        var tohost = elf.Segments[1];
        Assert.Equal(TestProgram.ToHostBase, tohost.PhysicalAddress);
        Assert.Equal(0x48UL, tohost.MemorySize);
        Assert.True(tohost.IsWritable);

        var data = elf.Segments[2];
        Assert.Equal(TestProgram.DataBase, data.PhysicalAddress);
        Assert.Equal(8UL, data.FileSize);
        Assert.Equal(8UL + TestProgram.BssSize, data.MemorySize);
        Assert.Equal(TestProgram.DataWord, BinaryPrimitives.ReadUInt64LittleEndian(data.FileBytes.Span));

        Assert.Equal(TestProgram.TextBase, elf.PhysicalStart);
        Assert.Equal(TestProgram.DataBase + 8 + TestProgram.BssSize, elf.PhysicalEnd);
    }

    [RiscvToolchainFact]
    public void Symbols_are_found_by_name()
    {
        var elf = ElfImage.Parse(Program.Elf, "prog.elf");

        Assert.True(elf.TryGetSymbol("tohost", out var tohost));
        Assert.Equal(TestProgram.ToHostBase, tohost.Value);
        Assert.Equal(ElfSymbol.BindingGlobal, tohost.Binding);
        Assert.Equal(TestProgram.ToHostBase + 0x40, elf.GetSymbol("fromhost").Value);
        Assert.Equal(TestProgram.TextBase, elf.GetSymbol("_start").Value);
        Assert.Equal(TestProgram.DataBase, elf.GetSymbol("data_word").Value);
        Assert.Equal(TestProgram.DataBase + 8, elf.GetSymbol("bss_buf").Value);
        Assert.Contains(elf.Symbols, s => s.Name == "prog.o" && s.Type == 4); // STT_FILE is listed but not looked up

        Assert.False(elf.TryGetSymbol("prog.o", out _));
        Assert.False(elf.TryGetSymbol("nope", out _));
        var ex = Assert.Throws<KeyNotFoundException>(() => elf.GetSymbol("nope"));
        Assert.Contains("prog.elf", ex.Message);
        Assert.Contains("'nope'", ex.Message);
    }

    [RiscvToolchainFact]
    public void Loading_from_a_file_names_the_file()
    {
        var elf = ElfImage.Load(Program.ElfPath);
        Assert.Equal(Program.ElfPath, elf.SourceName);
        Assert.Equal(3, elf.Segments.Count);
    }

    [RiscvToolchainFact]
    public unsafe void Segments_are_copied_into_guest_ram_with_bss_zeroed()
    {
        var elf = ElfImage.Parse(Program.Elf, "prog.elf");
        using var ram = new GuestRam(0x8000_0000, 64 * 1024);
        new Span<byte>(ram.Pointer, (int)ram.Size).Fill(0xaa); // stale contents: bss must be cleared explicitly

        elf.LoadInto(ram);

        Assert.True(ram.TryGetSpan(TestProgram.TextBase, Program.TextBytes.Length, out var text));
        Assert.Equal(Program.TextBytes, text.ToArray());
        Assert.True(ram.TryGetSpan(TestProgram.TextBase + (ulong)Program.TextBytes.Length, 16, out var gap));
        Assert.All(gap.ToArray(), b => Assert.Equal(0xaa, b)); // nothing written outside segments

        Assert.True(ram.TryGetSpan(TestProgram.ToHostBase, 0x48, out var tohost));
        Assert.All(tohost.ToArray(), b => Assert.Equal(0, b));

        Assert.True(ram.TryGetSpan(TestProgram.DataBase, 8 + TestProgram.BssSize + 8, out var data));
        Assert.Equal(TestProgram.DataWord, BinaryPrimitives.ReadUInt64LittleEndian(data));
        Assert.All(data.Slice(8, TestProgram.BssSize).ToArray(), b => Assert.Equal(0, b));
        Assert.All(data.Slice(8 + TestProgram.BssSize).ToArray(), b => Assert.Equal(0xaa, b));
    }

    [RiscvToolchainFact]
    public void A_segment_outside_ram_is_reported_and_nothing_is_written()
    {
        var elf = ElfImage.Parse(Program.Elf, "prog.elf");
        using var ram = new GuestRam(0x8000_0000, 0x2000); // ends before .data
        var ex = Assert.Throws<ArgumentException>(() => elf.LoadInto(ram));
        Assert.Contains("prog.elf", ex.Message);
        Assert.Contains("0x80002000", ex.Message);
        Assert.Contains("does not fit in guest RAM [0x80000000, 0x80002000)", ex.Message);
        Assert.True(ram.TryGetSpan(TestProgram.TextBase, Program.TextBytes.Length, out var text));
        Assert.All(text.ToArray(), b => Assert.Equal(0, b));
    }

    [RiscvToolchainFact]
    public void Default_ld_layout_maps_the_headers_below_the_text_and_cannot_load_at_ram_base()
    {
        // Without -n, ld puts the ELF headers in the first PT_LOAD one page below .text.
        var elf = ElfImage.Parse(Program.DefaultLinkedElf, "prog-default.elf");
        Assert.Equal(TestProgram.TextBase - 0x1000, elf.PhysicalStart);
        using var ram = new GuestRam(0x8000_0000, 64 * 1024);
        Assert.Contains("0x7ffff000", Assert.Throws<ArgumentException>(() => elf.LoadInto(ram)).Message);
    }

    [RiscvToolchainFact]
    public void A_relocatable_object_is_rejected()
    {
        var ex = Assert.Throws<ElfFormatException>(() => ElfImage.Parse(Program.Object, "prog.o"));
        Assert.Equal("prog.o: e_type is 1 (ET_REL, an object file that still needs linking); only executables (ET_EXEC, 2) can be loaded", ex.Message);
        Assert.Equal("prog.o", ex.SourceName);
    }
}
