using Backup.Hypervisor.Machine;

namespace Backup.Cli.Commands;

/// <summary>
/// Maps how a VM ended onto the `backup` process's exit status. A process status is one byte, so a guest status
/// of 256 (HTIF or syscon) would reach the shell as 0 and a failing program would pass: 0 stays 0, 1-255 pass
/// through unchanged, and any other non-zero status becomes <see cref="OutOfRange"/> (the real one is printed).
/// </summary>
public static class GuestExitStatus
{
    /// <summary>The process status for a guest status that does not fit in 1-255.</summary>
    public const int OutOfRange = 255;

    public static int ToProcessExitCode(VmExit exit)
    {
        if (exit.ExitCode == 0)
        {
            return exit.Succeeded || exit.Kind == VmExitKind.Reboot ? 0 : 1;
        }

        return exit.ExitCode is >= 1 and <= 255 ? exit.ExitCode : OutOfRange;
    }
}
