using System.Buffers.Binary;
using Backup.Hypervisor.Boot;

namespace Backup.Hypervisor.Tests.Boot;

public class LinuxImageHeaderTests
{
    private static byte[] Image(bool magic = true, bool magic2 = true, ulong flags = 0, int length = 4096)
    {
        var image = new byte[length];
        var span = image.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(span, 0x0400_006f);      // code0: j over the header
        BinaryPrimitives.WriteUInt32LittleEndian(span[4..], 0x0000_0013); // code1: nop
        BinaryPrimitives.WriteUInt64LittleEndian(span[8..], 0x20_0000);
        BinaryPrimitives.WriteUInt64LittleEndian(span[16..], 0x24_5000);
        BinaryPrimitives.WriteUInt64LittleEndian(span[24..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(span[32..], 0x0000_0002);
        if (magic)
        {
            "RISCV\0\0\0"u8.CopyTo(span[48..]);
        }

        if (magic2)
        {
            "RSC\x05"u8.CopyTo(span[56..]);
        }

        return image;
    }

    [Fact]
    public void Fields_are_read_little_endian()
    {
        var header = LinuxImageHeader.Parse(Image(), "Image");
        Assert.Equal(0x0400_006fu, header.Code0);
        Assert.Equal(0x13u, header.Code1);
        Assert.Equal(0x20_0000UL, header.TextOffset);
        Assert.Equal(0x24_5000UL, header.ImageSize);
        Assert.Equal(0UL, header.Flags);
        Assert.False(header.IsBigEndian);
        Assert.Equal(0, header.MajorVersion);
        Assert.Equal(2, header.MinorVersion);
        Assert.True(header.HasMagic);
        Assert.True(header.HasMagic2);
        Assert.Equal(0x8020_0000UL, header.LoadAddress(0x8000_0000));
        Assert.Equal(0x24_5000UL, header.EffectiveSize(4096));
        Assert.Equal(0x30_0000UL, header.EffectiveSize(0x30_0000));
    }

    [Fact]
    public void Either_magic_is_enough()
    {
        Assert.True(LinuxImageHeader.Parse(Image(magic: false)).HasMagic2);
        Assert.True(LinuxImageHeader.Parse(Image(magic2: false)).HasMagic);
        Assert.True(LinuxImageHeader.IsPresent(Image(magic: false)));
    }

    [Fact]
    public void A_raw_binary_has_no_header()
    {
        var raw = Image(magic: false, magic2: false);
        Assert.False(LinuxImageHeader.IsPresent(raw));
        Assert.False(LinuxImageHeader.TryParse(raw, out var header));
        Assert.Null(header);
        var ex = Assert.Throws<LinuxImageFormatException>(() => LinuxImageHeader.Parse(raw, "firmware.bin"));
        Assert.StartsWith("firmware.bin: no RISC-V Linux Image header", ex.Message);
        Assert.Equal("firmware.bin", ex.SourceName);
    }

    [Fact]
    public void Short_input_and_big_endian_kernels_are_rejected()
    {
        Assert.Contains("truncated: 63 bytes", Assert.Throws<LinuxImageFormatException>(() => LinuxImageHeader.Parse(Image(length: 63))).Message);
        Assert.False(LinuxImageHeader.IsPresent(Image(length: 63)));
        Assert.Contains("big-endian", Assert.Throws<LinuxImageFormatException>(() => LinuxImageHeader.Parse(Image(flags: 1))).Message);
        Assert.False(LinuxImageHeader.TryParse(Image(flags: 1), out _));
    }

    [Fact]
    public void Header_can_be_read_from_a_file()
    {
        var path = Path.Combine(Path.GetTempPath(), $"Image-{Guid.NewGuid():N}");
        try
        {
            File.WriteAllBytes(path, Image());
            Assert.Equal(0x20_0000UL, LinuxImageHeader.ParseFile(path).TextOffset);
            File.WriteAllBytes(path, new byte[10]);
            Assert.StartsWith(path + ": truncated", Assert.Throws<LinuxImageFormatException>(() => LinuxImageHeader.ParseFile(path)).Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
