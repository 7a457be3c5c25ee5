namespace Backup.Hypervisor.Boot;

/// <summary>
/// Where a Linux boot puts its three parts in guest RAM, and the checks that they fit:
/// <list type="bullet">
/// <item>the kernel Image at RAM base + its header's text_offset (2 MiB when it has no header), occupying the larger
/// of its file size and its header's image_size (which includes bss);</item>
/// <item>the device tree at the top of RAM (of the first 3 GiB), aligned down to 2 MiB, as firmware places it;</item>
/// <item>the initial ramdisk directly below the device tree, its start aligned down to 4 KiB.</item>
/// </list>
/// The initrd rule is QEMU's newer one (the top of RAM, below the device tree) rather than its older "half of RAM,
/// at most 128 MiB in": at the top the initrd is as far from the kernel as it can be, so a kernel that grows
/// (bss, early allocations just past its end) never reaches it, and the space between them is the largest possible.
/// Linux reserves the initrd's range (memblock) before its first allocation and frees it once unpacked, and every
/// address below 3 GiB is in its linear map.
/// </summary>
public sealed record LinuxBootLayout
{
    /// <summary>Where the kernel Image goes when its header does not say (RAM base + 2 MiB, as firmware does).</summary>
    public const ulong DefaultKernelOffset = 0x20_0000;

    /// <summary>Alignment of the device tree's address.</summary>
    public const ulong DeviceTreeAlignment = 2UL << 20;

    /// <summary>Alignment of the initrd's start.</summary>
    public const ulong InitrdAlignment = 4096;

    /// <summary>The device tree and initrd stay below RAM base + this (the kernel maps low memory first).</summary>
    public const ulong LowMemoryLimit = 3UL << 30;

    /// <summary>Guest-physical address of the kernel's first byte, where the boot hart starts.</summary>
    public required ulong KernelAddress { get; init; }

    /// <summary>One past the kernel's last byte in memory (its bss included).</summary>
    public required ulong KernelEnd { get; init; }

    /// <summary>Guest-physical address of the device tree blob (passed in a1).</summary>
    public required ulong DeviceTreeAddress { get; init; }

    /// <summary>Guest-physical start of the initrd, or null without one.</summary>
    public ulong? InitrdStart { get; init; }

    /// <summary>One past the initrd's last byte, or null without one.</summary>
    public ulong? InitrdEnd { get; init; }

    /// <summary>
    /// Places a kernel of <paramref name="kernelFileBytes"/> (with <paramref name="header"/>, when it has one), a
    /// device tree of <paramref name="deviceTreeBytes"/> and an initrd of <paramref name="initrdBytes"/> (null for
    /// none) in RAM at <paramref name="ramBase"/> of <paramref name="ramSize"/> bytes.
    /// </summary>
    /// <param name="kernelName">Names the kernel in errors (its path).</param>
    /// <param name="initrdName">Names the initrd in errors (its path).</param>
    /// <exception cref="ArgumentException">A part does not fit; the message names the file, its size and the RAM.</exception>
    public static LinuxBootLayout Plan(ulong ramBase, ulong ramSize, string kernelName, long kernelFileBytes, LinuxImageHeader? header,
        int deviceTreeBytes, string? initrdName = null, long? initrdBytes = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(kernelFileBytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(deviceTreeBytes);
        string ram = $"{ramSize >> 20} MiB of RAM";
        ulong offset = header?.TextOffset ?? DefaultKernelOffset;
        ulong kernelSpan = Math.Max((ulong)kernelFileBytes, header?.ImageSize ?? 0);
        ulong top = Math.Min(ramSize, LowMemoryLimit);
        if ((ulong)deviceTreeBytes > top || offset > ramSize || kernelSpan > ramSize - offset)
        {
            throw new ArgumentException(
                $"kernel '{kernelName}' ({Describe(kernelFileBytes, kernelSpan)}, loaded {offset >> 20} MiB into RAM) does not fit in {ram}");
        }

        ulong dtbOffset = (top - (ulong)deviceTreeBytes) & ~(DeviceTreeAlignment - 1);
        ulong kernelEnd = offset + kernelSpan;
        if (kernelEnd > dtbOffset)
        {
            throw new ArgumentException(
                $"kernel '{kernelName}' ({Describe(kernelFileBytes, kernelSpan)}) does not fit in {ram} with its device tree (at {dtbOffset >> 20} MiB)");
        }

        var layout = new LinuxBootLayout
        {
            KernelAddress = ramBase + offset,
            KernelEnd = ramBase + kernelEnd,
            DeviceTreeAddress = ramBase + dtbOffset,
        };
        if (initrdBytes is not { } length)
        {
            return layout;
        }

        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if ((ulong)length >= ramSize)
        {
            throw new ArgumentException($"initrd '{initrdName}' ({length} bytes) is larger than the VM's {ram}");
        }

        ulong room = dtbOffset - kernelEnd;
        ulong start = (dtbOffset - Math.Min((ulong)length, dtbOffset)) & ~(InitrdAlignment - 1);
        if ((ulong)length > dtbOffset || start < kernelEnd)
        {
            throw new ArgumentException(
                $"initrd '{initrdName}' ({length} bytes) does not fit in {ram} beside the kernel '{kernelName}' (which ends {kernelEnd >> 20} MiB into RAM) " +
                $"and the device tree ({dtbOffset >> 20} MiB in): {room} bytes are free between them; give the VM more memory");
        }

        return layout with { InitrdStart = ramBase + start, InitrdEnd = ramBase + start + (ulong)length };
    }

    private static string Describe(long fileBytes, ulong span) =>
        (ulong)fileBytes == span ? $"{fileBytes} bytes" : $"{fileBytes} bytes, {span} in memory with its bss";
}
