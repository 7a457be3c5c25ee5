namespace Backup.Hypervisor.Machine;

/// <summary>How a VM run ended: the kind, a process-style exit code (0 = success) and a human-readable reason.</summary>
public sealed record VmExit(VmExitKind Kind, int ExitCode, string Message)
{
    public bool Succeeded => ExitCode == 0 && Kind is VmExitKind.PowerOff or VmExitKind.HtifExit;

    public override string ToString() => $"{Kind} (exit code {ExitCode}): {Message}";
}
