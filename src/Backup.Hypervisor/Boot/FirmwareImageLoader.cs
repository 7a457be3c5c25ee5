using Backup.Hypervisor.Memory;

namespace Backup.Hypervisor.Boot;

/// <summary>
/// Loads firmware and its payload into guest RAM the way QEMU's loader does for -bios and -kernel: an ELF by its
/// program headers (entry from the header), anything else as a raw image at a fixed address (entry = that address).
/// Refuses, naming the file, what cannot be meant: an empty file, a compressed one, text, an ELF for another
/// machine, a Linux Image given as M-mode firmware, or an image that does not fit below <c>limit</c>.
/// </summary>
internal static class FirmwareImageLoader
{
    /// <summary>Loads <paramref name="path"/> and returns its entry point.</summary>
    /// <param name="role">"firmware" or "firmware payload", for messages.</param>
    /// <param name="rawAddress">Where a raw image goes.</param>
    /// <param name="limit">The first address the image must stay below (what is loaded after it).</param>
    public static ulong Load(GuestRam ram, string path, string role, ulong rawAddress, ulong limit, bool linuxImageAllowed)
    {
        byte[] image = File.ReadAllBytes(path);
        if (image.Length == 0)
        {
            throw new FirmwareImageFormatException(path, $"the {role} file is empty");
        }

        if (image.Length >= 4 && image[0] == 0x7F && image[1] == (byte)'E' && image[2] == (byte)'L' && image[3] == (byte)'F')
        {
            var elf = ElfImage.Parse(image, path);
            if (elf.PhysicalStart < ram.Base || elf.PhysicalEnd > limit)
            {
                throw new FirmwareImageFormatException(path,
                    $"the {role} ELF loads at [0x{elf.PhysicalStart:x}, 0x{elf.PhysicalEnd:x}), outside [0x{ram.Base:x}, 0x{limit:x}) where the {role} must sit");
            }

            elf.LoadInto(ram);
            return elf.Entry;
        }

        if (image.Length >= 2 && image[0] == 0x1F && image[1] == 0x8B)
        {
            throw new FirmwareImageFormatException(path, $"the {role} file is gzip-compressed; decompress it first (gunzip)");
        }

        if (LooksLikeText(image))
        {
            throw new FirmwareImageFormatException(path, $"the {role} file is text, not an ELF or a raw RISC-V image");
        }

        if (!linuxImageAllowed && LinuxImageHeader.TryParse(image, out _))
        {
            throw new FirmwareImageFormatException(path,
                $"this is a Linux kernel Image, not M-mode firmware: boot it with --kernel, or through U-Boot from a disk's extlinux/extlinux.conf");
        }

        if ((ulong)image.Length > limit - rawAddress)
        {
            throw new FirmwareImageFormatException(path,
                $"the {role} image is {image.Length} bytes; at 0x{rawAddress:x} it must stay below 0x{limit:x} ({limit - rawAddress} bytes)");
        }

        ram.Write(rawAddress, image);
        return rawAddress;
    }

    /// <summary>True when the first bytes are all printable ASCII or whitespace (a script, a config file, a listing).</summary>
    private static bool LooksLikeText(byte[] image)
    {
        int n = Math.Min(image.Length, 512);
        for (int i = 0; i < n; i++)
        {
            byte b = image[i];
            if (b is not ((>= 0x20 and < 0x7F) or (byte)'\n' or (byte)'\r' or (byte)'\t'))
            {
                return false;
            }
        }

        return true;
    }
}
