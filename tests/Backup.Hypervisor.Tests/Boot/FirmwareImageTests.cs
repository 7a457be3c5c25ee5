using System.Buffers.Binary;
using Backup.Hypervisor.Boot;
using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Memory;

namespace Backup.Hypervisor.Tests.Boot;

/// <summary>
/// Loading firmware and its payload (ELF or raw image, refused with the file named when it cannot be meant), the
/// fw_dynamic info structure, the configuration checks of firmware boot, and the U-Boot prompt watcher.
/// </summary>
public sealed class FirmwareImageTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fwimage-").FullName;
    private readonly GuestRam _ram = new(0x8000_0000, 16UL << 20);

    public void Dispose()
    {
        _ram.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private string File(string name, byte[] content)
    {
        string path = Path.Combine(_dir, name);
        System.IO.File.WriteAllBytes(path, content);
        return path;
    }

    private ulong Load(string path, bool linuxAllowed = false) =>
        FirmwareImageLoader.Load(_ram, path, "firmware", 0x8000_0000, 0x8020_0000, linuxAllowed);

    [Fact]
    public void A_raw_image_is_loaded_at_its_address_and_entered_there()
    {
        byte[] code = [0x73, 0x00, 0x50, 0x10, 0x6F, 0x00, 0x00, 0x00]; // wfi; j .
        ulong entry = Load(File("fw.bin", code));
        Assert.Equal(0x8000_0000UL, entry);
        Assert.True(_ram.TryGetSpan(0x8000_0000, code.Length, out var loaded));
        Assert.Equal(code, loaded.ToArray());
    }

    public static TheoryData<string, byte[], string> Refused => new()
    {
        { "empty.bin", [], "is empty" },
        { "fw.bin.gz", [0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00], "gzip-compressed" },
        { "extlinux.conf", "default guest\nlabel guest\n  kernel /boot/Image\n"u8.ToArray(), "is text" },
        { "elf-garbage", [0x7F, (byte)'E', (byte)'L', (byte)'F', 1, 2, 3], "" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void What_is_not_firmware_is_refused_naming_the_file(string name, byte[] content, string problem)
    {
        string path = File(name, content);
        var e = Assert.ThrowsAny<FormatException>(() => Load(path));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains(problem, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_linux_image_is_refused_as_firmware_but_accepted_as_payload()
    {
        var image = new byte[4096];
        BinaryPrimitives.WriteUInt64LittleEndian(image.AsSpan(16), (ulong)image.Length); // image_size
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(32), 2); // header version 0.2
        "RISCV\0\0\0"u8.CopyTo(image.AsSpan(48));
        "RSC\x05"u8.CopyTo(image.AsSpan(56));
        string path = File("Image", image);

        var e = Assert.Throws<FirmwareImageFormatException>(() => Load(path));
        Assert.Contains("Linux kernel Image", e.Message, StringComparison.Ordinal);
        Assert.Equal(0x8000_0000UL, Load(path, linuxAllowed: true));
    }

    [Fact]
    public void An_image_that_would_reach_the_payload_is_refused()
    {
        string path = File("big.bin", new byte[(2 << 20) + 1]);
        var e = Assert.Throws<FirmwareImageFormatException>(() => Load(path));
        Assert.Contains("must stay below 0x80200000", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_fw_dynamic_info_has_opensbis_layout()
    {
        byte[] info = FwDynamicInfo.Build(0x8020_0000, 0);
        Assert.Equal(48, info.Length);
        ulong[] words = [.. Enumerable.Range(0, 6).Select(i => BinaryPrimitives.ReadUInt64LittleEndian(info.AsSpan(i * 8)))];
        Assert.Equal([0x4942534FUL, 2UL, 0x8020_0000UL, 1UL, 0UL, 0UL], words);
    }

    [Fact]
    public void A_missing_default_firmware_names_the_debian_package()
    {
        var boot = FirmwareBoot.OpenSbiUBoot() with { FirmwarePath = Path.Combine(_dir, "absent.bin") };
        var e = Assert.Throws<ArgumentException>(boot.Validate);
        Assert.Contains("absent.bin' does not exist", e.Message, StringComparison.Ordinal);

        string message = FirmwareBoot.MissingFileMessage("firmware", FirmwareBoot.DefaultOpenSbiPath, FirmwareBoot.DefaultOpenSbiPath, FirmwareBoot.OpenSbiPackage, "--firmware-file");
        Assert.Contains("install Debian's qemu-system-data package", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Firmware_boot_excludes_a_kernel_and_needs_256_mib_for_u_boot()
    {
        var firmware = new VmConfiguration { Firmware = FirmwareBoot.OpenSbiUBoot() };
        var both = firmware with { KernelPath = "/boot/Image" };
        Assert.Contains("exactly one of", Assert.Throws<ArgumentException>(() => both.Validate(imageNeeded: false)).Message, StringComparison.Ordinal);

        var small = firmware with { MemorySize = 128UL << 20 };
        Assert.Contains("at least 256 MiB", Assert.Throws<ArgumentException>(() => small.Validate(imageNeeded: false)).Message, StringComparison.Ordinal);
        (firmware with { MemorySize = 256UL << 20 }).Validate(imageNeeded: false);
    }

    [Fact]
    public void The_watcher_fires_on_u_boots_prompt_only_before_a_kernel_starts_and_without_input()
    {
        int fired = 0;
        void Feed(BootTargetWatcher w, string text)
        {
            foreach (char c in text)
            {
                w.Observe((byte)c);
            }
        }

        var failing = new BootTargetWatcher(() => fired++);
        Feed(failing, "Scanning virtio 0:1...\r\nx => y\r\nNo ethernet found.\r\n=> ");
        Assert.Equal(1, fired);
        Feed(failing, "\r\n=> ");
        Assert.Equal(1, fired); // once

        var booted = new BootTargetWatcher(() => fired++);
        Feed(booted, "Starting kernel ...\r\n\r\n=> a kernel line\r\n");
        var interactive = new BootTargetWatcher(() => fired++);
        interactive.InputArrived();
        Feed(interactive, "\r\n=> ");
        Assert.Equal(1, fired);
    }
}
