using Backup.Hypervisor.Boot;
using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Timing;
using Backup.Hypervisor.Translation;

namespace Backup.Cli.Commands;

/// <summary>What `backup vm run` and `backup vm resume` were asked to run in the foreground.</summary>
internal sealed record ForegroundRun
{
    public string? Kernel { get; init; }

    public string? Initrd { get; init; }

    public string? Elf { get; init; }

    /// <summary>Boot through guest firmware (<c>--firmware opensbi+uboot</c>), or null.</summary>
    public FirmwareBoot? Firmware { get; init; }

    /// <summary>Disk image paths, each optionally suffixed ",ro".</summary>
    public IReadOnlyList<string> DiskSpecs { get; init; } = [];

    public ulong MemoryBytes { get; init; }

    public int Cpus { get; init; } = 1;

    public string CommandLine { get; init; } = string.Empty;

    public ClockMode Clock { get; init; }

    public ExecutionMode Execution { get; init; }

    /// <summary>Stop after this many instructions (0 = no limit).</summary>
    public ulong InstructionLimit { get; init; }

    public string? SignaturePath { get; init; }

    public bool Stats { get; init; }

    public string? CheckpointDirectory { get; init; }

    public TimeSpan CheckpointEvery { get; init; }

    /// <summary>Folder of checkpoints to resume from (the newest chain), or null to boot.</summary>
    public string? ResumeFrom { get; init; }

    public bool AgentChannel { get; init; }

    /// <summary>The VM has the QEMU guest agent's port (virtio-serial org.qemu.guest_agent.0).</summary>
    public bool QemuGuestAgent { get; init; }
}
