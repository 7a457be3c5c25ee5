namespace Backup.Hypervisor.Boot;

/// <summary>
/// Booting through M-mode firmware, as QEMU's virt machine does with <c>-bios fw_dynamic.bin -kernel u-boot.bin</c>:
/// every hart starts in M-mode at 0x80000000 in OpenSBI's <c>fw_dynamic</c> (a0 = hart id, a1 = device tree,
/// a2 = the <see cref="FwDynamicInfo"/> naming the payload), OpenSBI programs PMP and the CLINT and enters the
/// payload in S-mode at 0x80200000 — U-Boot, whose distro boot reads <c>extlinux/extlinux.conf</c> from a virtio
/// disk and boots the kernel it names. The host serves no SBI: S-mode ECALLs go to OpenSBI.
/// </summary>
public sealed record FirmwareBoot
{
    /// <summary>The one firmware stack the machine knows by name (<c>--firmware opensbi+uboot</c>).</summary>
    public const string OpenSbiUBootName = "opensbi+uboot";

    /// <summary>OpenSBI's fw_dynamic for the generic platform, as Debian ships it.</summary>
    public const string DefaultOpenSbiPath = "/usr/share/qemu/opensbi-riscv64-generic-fw_dynamic.bin";

    /// <summary>The Debian package holding <see cref="DefaultOpenSbiPath"/>.</summary>
    public const string OpenSbiPackage = "qemu-system-data";

    /// <summary>U-Boot built for QEMU virt in S-mode (runs after OpenSBI), as Debian ships it.</summary>
    public const string DefaultUBootPath = "/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin";

    /// <summary>The Debian package holding <see cref="DefaultUBootPath"/>.</summary>
    public const string UBootPackage = "u-boot-qemu";

    /// <summary>Where the M-mode firmware starts (RAM base, the virt machine's reset target).</summary>
    public const ulong FirmwareAddress = 0x8000_0000;

    /// <summary>Where a raw payload image goes (RAM base + 2 MiB, where fw_dynamic's next stage starts).</summary>
    public const ulong PayloadAddress = 0x8020_0000;

    /// <summary>The M-mode firmware: an ELF, or a raw image loaded at <see cref="FirmwareAddress"/>.</summary>
    public required string FirmwarePath { get; init; }

    /// <summary>The S-mode payload: an ELF, or a raw image loaded at <see cref="PayloadAddress"/>.</summary>
    public required string PayloadPath { get; init; }

    /// <summary>
    /// Stop the VM with an error when U-Boot's autoboot finds nothing to boot and falls back to its prompt
    /// (unless console input arrived first: someone stopped autoboot to use the prompt).
    /// </summary>
    public bool StopWhenNothingToBoot { get; init; } = true;

    /// <summary>OpenSBI + U-Boot from Debian's packages, or the files given instead.</summary>
    public static FirmwareBoot OpenSbiUBoot(string? firmwareFile = null, string? payloadFile = null) => new()
    {
        FirmwarePath = firmwareFile ?? DefaultOpenSbiPath,
        PayloadPath = payloadFile ?? DefaultUBootPath,
    };

    /// <summary>
    /// RAM Debian's U-Boot for QEMU virt needs: its environment loads kernels, ramdisks, device trees and
    /// extlinux.conf at fixed addresses up to 0x8c200000 and beyond (kernel_addr_r 0x84000000 ... pxefile_addr_r).
    /// </summary>
    public const ulong UBootMinimumMemory = 256UL << 20;

    /// <summary>Throws <see cref="ArgumentException"/> when <paramref name="memorySize"/> is too small for the default U-Boot.</summary>
    public void ValidateMemory(ulong memorySize)
    {
        if (PayloadPath == DefaultUBootPath && memorySize < UBootMinimumMemory)
        {
            throw new ArgumentException(
                $"{memorySize >> 20} MiB of RAM is too little for U-Boot (it loads files at fixed addresses up to 0x8c200000): give the VM at least {UBootMinimumMemory >> 20} MiB");
        }
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming a missing file (and the package that provides it).</summary>
    public void Validate()
    {
        Require(FirmwarePath, "firmware", DefaultOpenSbiPath, OpenSbiPackage, "--firmware-file");
        Require(PayloadPath, "firmware payload", DefaultUBootPath, UBootPackage, "--firmware-payload");
    }

    private static void Require(string path, string role, string defaultPath, string package, string option)
    {
        if (string.IsNullOrEmpty(path))
        {
            throw new ArgumentException($"the {role} path is empty");
        }

        if (!File.Exists(path))
        {
            throw new ArgumentException(MissingFileMessage(role, path, defaultPath, package, option));
        }
    }

    /// <summary>What to say about a missing file: for the Debian default, which package to install.</summary>
    internal static string MissingFileMessage(string role, string path, string defaultPath, string package, string option) => path == defaultPath
        ? $"{role} '{path}' does not exist: install Debian's {package} package (apt-get install {package}) or name another file with {option}"
        : $"{role} '{path}' does not exist";
}
