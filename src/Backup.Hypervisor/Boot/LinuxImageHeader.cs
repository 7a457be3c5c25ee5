using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;

namespace Backup.Hypervisor.Boot;

/// <summary>
/// The 64-byte header at the start of a RISC-V Linux kernel Image (Documentation/riscv/boot-image-header.rst):
/// code0, code1, text_offset (u64 at 8), image_size (u64 at 16), flags (u64 at 24), version (u32 at 32),
/// magic "RISCV\0\0\0" (u64 at 48, deprecated since 0.2) and magic2 "RSC\x05" (u32 at 56). All little-endian.
/// A raw binary without the header may still be loadable; <see cref="IsPresent"/> tells the two apart.
/// </summary>
public sealed class LinuxImageHeader
{
    /// <summary>Header size in bytes.</summary>
    public const int Size = 64;

    /// <summary>"RISCV\0\0\0" read as a little-endian u64 at offset 48.</summary>
    public const ulong Magic = 0x5643534952;

    /// <summary>"RSC\x05" read as a little-endian u32 at offset 56.</summary>
    public const uint Magic2 = 0x05435352;

    private LinuxImageHeader(ReadOnlySpan<byte> header)
    {
        Code0 = BinaryPrimitives.ReadUInt32LittleEndian(header);
        Code1 = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
        TextOffset = BinaryPrimitives.ReadUInt64LittleEndian(header[8..]);
        ImageSize = BinaryPrimitives.ReadUInt64LittleEndian(header[16..]);
        Flags = BinaryPrimitives.ReadUInt64LittleEndian(header[24..]);
        Version = BinaryPrimitives.ReadUInt32LittleEndian(header[32..]);
        HasMagic = BinaryPrimitives.ReadUInt64LittleEndian(header[48..]) == Magic;
        HasMagic2 = BinaryPrimitives.ReadUInt32LittleEndian(header[56..]) == Magic2;
    }

    /// <summary>First instruction word (normally a jump over the header, or "MZ" for an EFI stub).</summary>
    public uint Code0 { get; }

    /// <summary>Second instruction word.</summary>
    public uint Code1 { get; }

    /// <summary>Offset from the start of RAM at which the Image expects to be loaded (0x200000 for RV64).</summary>
    public ulong TextOffset { get; }

    /// <summary>Effective size of the kernel in memory, including bss (may exceed the file size).</summary>
    public ulong ImageSize { get; }

    /// <summary>Kernel flags; bit 0 set means big-endian.</summary>
    public ulong Flags { get; }

    /// <summary>Header version: major in bits 16..31, minor in bits 0..15.</summary>
    public uint Version { get; }

    /// <summary>Major header version.</summary>
    public int MajorVersion => (int)(Version >> 16);

    /// <summary>Minor header version.</summary>
    public int MinorVersion => (int)(Version & 0xffff);

    /// <summary>True when flags bit 0 marks a big-endian kernel.</summary>
    public bool IsBigEndian => (Flags & 1) != 0;

    /// <summary>True when the deprecated "RISCV" magic at offset 48 is present.</summary>
    public bool HasMagic { get; }

    /// <summary>True when magic2 "RSC\x05" at offset 56 is present.</summary>
    public bool HasMagic2 { get; }

    /// <summary>True when <paramref name="image"/> starts with a RISC-V Image header (either magic matches).</summary>
    public static bool IsPresent(ReadOnlySpan<byte> image) =>
        image.Length >= Size
        && (BinaryPrimitives.ReadUInt64LittleEndian(image[48..]) == Magic
            || BinaryPrimitives.ReadUInt32LittleEndian(image[56..]) == Magic2);

    /// <summary>Parses the header when present and little-endian; false for raw binaries or unusable headers.</summary>
    public static bool TryParse(ReadOnlySpan<byte> image, [NotNullWhen(true)] out LinuxImageHeader? header)
    {
        header = null;
        if (!IsPresent(image))
        {
            return false;
        }

        var parsed = new LinuxImageHeader(image[..Size]);
        if (parsed.IsBigEndian)
        {
            return false;
        }

        header = parsed;
        return true;
    }

    /// <summary>
    /// Parses the header; throws <see cref="LinuxImageFormatException"/> naming <paramref name="sourceName"/> when
    /// the data is too short, lacks both magics, or declares a big-endian kernel.
    /// </summary>
    public static LinuxImageHeader Parse(ReadOnlySpan<byte> image, string sourceName = "<memory>")
    {
        ArgumentNullException.ThrowIfNull(sourceName);
        if (image.Length < Size)
        {
            throw new LinuxImageFormatException(sourceName, $"truncated: {image.Length} bytes, but the RISC-V Image header needs {Size}");
        }

        if (!IsPresent(image))
        {
            throw new LinuxImageFormatException(
                sourceName,
                $"no RISC-V Linux Image header: neither magic \"RISCV\" at offset 48 nor magic2 \"RSC\\x05\" at offset 56 (magic2 read 0x{BinaryPrimitives.ReadUInt32LittleEndian(image[56..]):x8}); raw binaries must be loaded without a header");
        }

        var header = new LinuxImageHeader(image[..Size]);
        if (header.IsBigEndian)
        {
            throw new LinuxImageFormatException(sourceName, "the header declares a big-endian kernel (flags bit 0); only little-endian kernels are supported");
        }

        return header;
    }

    /// <summary>Reads the header from the start of the file at <paramref name="path"/> (see <see cref="Parse"/>).</summary>
    public static LinuxImageHeader ParseFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = File.OpenRead(path);
        var buffer = new byte[Size];
        var read = stream.ReadAtLeast(buffer, Size, throwOnEndOfStream: false);
        return Parse(buffer.AsSpan(0, read), path);
    }

    /// <summary>Guest-physical address the Image should be copied to: <paramref name="ramBase"/> + <see cref="TextOffset"/>.</summary>
    public ulong LoadAddress(ulong ramBase) => ramBase + TextOffset;

    /// <summary>Memory the kernel occupies once loaded: the larger of <see cref="ImageSize"/> and the file length.</summary>
    public ulong EffectiveSize(ulong fileLength) => Math.Max(ImageSize, fileLength);
}
