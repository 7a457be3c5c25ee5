namespace Backup.Hypervisor.Boot;

/// <summary>
/// One PT_LOAD program header of an <see cref="ElfImage"/>: <see cref="FileBytes"/> go to
/// <see cref="PhysicalAddress"/>, followed by <see cref="MemorySize"/> − <see cref="FileSize"/> zero bytes (bss).
/// </summary>
public sealed class ElfSegment
{
    /// <summary>PF_X.</summary>
    public const uint FlagExecute = 1;

    /// <summary>PF_W.</summary>
    public const uint FlagWrite = 2;

    /// <summary>PF_R.</summary>
    public const uint FlagRead = 4;

    internal ElfSegment(int index, ulong physicalAddress, ulong virtualAddress, ulong fileOffset, ReadOnlyMemory<byte> fileBytes, ulong memorySize, uint flags, ulong alignment)
    {
        Index = index;
        PhysicalAddress = physicalAddress;
        VirtualAddress = virtualAddress;
        FileOffset = fileOffset;
        FileBytes = fileBytes;
        MemorySize = memorySize;
        Flags = flags;
        Alignment = alignment;
    }

    /// <summary>Index of the program header in the file's program header table.</summary>
    public int Index { get; }

    /// <summary>p_paddr: where the loader places the segment in guest-physical memory.</summary>
    public ulong PhysicalAddress { get; }

    /// <summary>p_vaddr: where the program expects the segment once translated.</summary>
    public ulong VirtualAddress { get; }

    /// <summary>p_offset: position of the segment's bytes in the file.</summary>
    public ulong FileOffset { get; }

    /// <summary>p_filesz: number of bytes taken from the file.</summary>
    public ulong FileSize => (ulong)FileBytes.Length;

    /// <summary>p_memsz: size in memory; the part past <see cref="FileSize"/> is zero-filled.</summary>
    public ulong MemorySize { get; }

    /// <summary>The segment's bytes in the file (a view of the parsed buffer, not a copy).</summary>
    public ReadOnlyMemory<byte> FileBytes { get; }

    /// <summary>p_flags (<see cref="FlagRead"/>, <see cref="FlagWrite"/>, <see cref="FlagExecute"/>).</summary>
    public uint Flags { get; }

    /// <summary>p_align.</summary>
    public ulong Alignment { get; }

    /// <summary>True when the segment is executable.</summary>
    public bool IsExecutable => (Flags & FlagExecute) != 0;

    /// <summary>True when the segment is writable.</summary>
    public bool IsWritable => (Flags & FlagWrite) != 0;

    /// <summary>One past the last guest-physical byte of the segment in memory.</summary>
    public ulong PhysicalEnd => PhysicalAddress + MemorySize;

    /// <inheritdoc/>
    public override string ToString() =>
        $"PT_LOAD #{Index} paddr 0x{PhysicalAddress:x} vaddr 0x{VirtualAddress:x} filesz 0x{FileSize:x} memsz 0x{MemorySize:x}";
}
