using Backup.Disks.BlockDevices;
using Backup.Hypervisor.Boot;
using Backup.Hypervisor.Timing;
using Backup.Hypervisor.Translation;

namespace Backup.Hypervisor.Machine;

/// <summary>
/// What a VM is made of. Exactly one of <see cref="KernelPath"/> (a RISC-V Linux Image, booted in S-mode with
/// host-served SBI and a generated device tree, optionally with an initial ramdisk, <see cref="InitrdPath"/>),
/// <see cref="ElfPath"/> (a bare-metal ELF started in M-mode with HTIF) or <see cref="Firmware"/> (OpenSBI + U-Boot
/// in the guest, booting what a disk's extlinux.conf names) must be set. Disks are owned by the caller and stay open
/// after the VM stops.
/// </summary>
public sealed record VmConfiguration
{
    public const ulong MinimumMemory = 16UL << 20;
    public const ulong MaximumMemory = 64UL << 30;

    public string? KernelPath { get; init; }

    public string? ElfPath { get; init; }

    /// <summary>Boot through M-mode firmware and a bootloader payload, as QEMU's virt machine does (docs/firmware-boot.md).</summary>
    public FirmwareBoot? Firmware { get; init; }

    /// <summary>
    /// An initial ramdisk (a cpio archive, possibly compressed) for the kernel, loaded below the device tree at the
    /// top of RAM and described by /chosen linux,initrd-start/-end (<see cref="Boot.LinuxBootLayout"/>); null for none.
    /// </summary>
    public string? InitrdPath { get; init; }

    public ulong MemorySize { get; init; } = 256UL << 20;

    public int CpuCount { get; init; } = 1;

    public string CommandLine { get; init; } = "console=ttyS0";

    public IReadOnlyList<IBlockDevice> Disks { get; init; } = [];

    public ClockMode Clock { get; init; } = ClockMode.RealTime;

    /// <summary>Network cards (virtio-net), at most <see cref="VirtualMachine.MaxNics"/>, each with its own unicast MAC.</summary>
    public IReadOnlyList<VmNic> Nics { get; init; } = [];

    /// <summary>Adds the guest-agent channel: a second 16550 (Linux's ttyS1) served by <see cref="VirtualMachine.Agent"/>.</summary>
    public bool AgentChannel { get; init; }

    /// <summary>
    /// Adds the standard QEMU guest agent's channel: a virtio-serial device (multiport virtio console) with the port
    /// org.qemu.guest_agent.0, served by <see cref="VirtualMachine.QemuAgent"/>.
    /// </summary>
    public bool QemuGuestAgent { get; init; }

    /// <summary>How the harts execute guest code: the interpreter, or hot blocks translated to native code.</summary>
    public ExecutionMode Execution { get; init; } = ExecutionMode.Interpreter;

    /// <summary>
    /// Tests only: translated harts compile a hot block at once on the VM thread instead of in the background, so
    /// which code runs compiled does not depend on host timing (the guest-visible behaviour is identical either way).
    /// </summary>
    internal bool SynchronousTranslation { get; init; }

    /// <summary>Instructions a hart runs before the machine polls devices and switches harts.</summary>
    public int Quantum { get; init; } = 4096;

    /// <summary>Stop after this many instructions in total (0 = no limit); used by benchmarks and tests.</summary>
    public ulong InstructionLimit { get; init; }

    /// <summary>Checks the configuration; throws <see cref="ArgumentException"/> naming what is wrong.</summary>
    public void Validate() => Validate(imageNeeded: true);

    /// <summary>
    /// As <see cref="Validate()"/>; with <paramref name="imageNeeded"/> false (a machine restored from a checkpoint,
    /// which runs from its saved memory) the kernel or ELF file need not exist yet.
    /// </summary>
    internal void Validate(bool imageNeeded)
    {
        if ((KernelPath is null ? 0 : 1) + (ElfPath is null ? 0 : 1) + (Firmware is null ? 0 : 1) != 1)
        {
            throw new ArgumentException("exactly one of a kernel (--kernel), a bare-metal ELF (--elf) or firmware (--firmware) is needed");
        }

        if (Firmware is not null)
        {
            if (imageNeeded)
            {
                Firmware.Validate();
            }

            Firmware.ValidateMemory(MemorySize);
        }
        else if (imageNeeded && !File.Exists((KernelPath ?? ElfPath)!))
        {
            throw new ArgumentException($"'{KernelPath ?? ElfPath}' does not exist");
        }

        if (InitrdPath is not null)
        {
            if (KernelPath is null)
            {
                throw new ArgumentException($"initrd '{InitrdPath}' needs a kernel (--kernel): a bare-metal ELF takes no initrd");
            }

            if (imageNeeded && !File.Exists(InitrdPath))
            {
                throw new ArgumentException($"initrd '{InitrdPath}' does not exist");
            }
        }

        if (MemorySize < MinimumMemory || MemorySize > MaximumMemory || MemorySize % 4096 != 0)
        {
            throw new ArgumentException($"memory size {MemorySize} bytes is outside {MinimumMemory >> 20} MiB..{MaximumMemory >> 30} GiB or not a multiple of 4 KiB");
        }

        if (CpuCount is < 1 or > 4)
        {
            throw new ArgumentException($"{CpuCount} CPUs requested; this machine supports 1 to 4");
        }

        if (Disks.Count > 8)
        {
            throw new ArgumentException($"{Disks.Count} disks requested; at most 8 virtio slots exist");
        }

        ValidateNics();

        if (!Enum.IsDefined(Execution))
        {
            throw new ArgumentException($"execution mode {(int)Execution} is neither interpreter nor translated");
        }

        if (Quantum is < 16 or > 1_000_000)
        {
            throw new ArgumentException($"quantum {Quantum} is outside 16..1000000 instructions");
        }
    }

    private void ValidateNics()
    {
        if (Nics is null)
        {
            throw new ArgumentException("Nics must not be null (use an empty list)");
        }

        if (Nics.Count > VirtualMachine.MaxNics)
        {
            throw new ArgumentException($"{Nics.Count} NICs requested; a VM has at most {VirtualMachine.MaxNics}");
        }

        var seen = new HashSet<ulong>();
        for (int i = 0; i < Nics.Count; i++)
        {
            var nic = Nics[i] ?? throw new ArgumentException($"NIC {i} is null");
            if (nic.Link is null)
            {
                throw new ArgumentException($"NIC {i} ({nic.Mac}) has no network link");
            }

            if (nic.Mac.IsMulticast || nic.Mac.Value == 0 || (nic.Mac.Value >> 48) != 0)
            {
                throw new ArgumentException($"NIC {i} has MAC address {nic.Mac}, which is not a unicast address");
            }

            if (!seen.Add(nic.Mac.Value))
            {
                throw new ArgumentException($"NIC {i} has MAC address {nic.Mac}, which an earlier NIC of this VM already has");
            }
        }
    }
}
