using Backup.Cli.Commands;
using Backup.Hypervisor.Machine;

namespace Backup.Cli.Tests.Commands;

public sealed class GuestExitStatusTests
{
    [Theory]
    [InlineData(VmExitKind.PowerOff, 0, 0)]
    [InlineData(VmExitKind.HtifExit, 0, 0)]
    [InlineData(VmExitKind.HtifExit, 7, 7)]
    [InlineData(VmExitKind.HtifExit, 255, 255)]
    [InlineData(VmExitKind.HtifExit, 256, 255)]
    [InlineData(VmExitKind.HtifExit, 512, 255)]
    [InlineData(VmExitKind.HtifExit, int.MaxValue, 255)]
    [InlineData(VmExitKind.GuestFailure, 65535, 255)]
    [InlineData(VmExitKind.GuestFailure, -1, 255)]
    [InlineData(VmExitKind.Error, 1, 1)]
    [InlineData(VmExitKind.Stopped, 124, 124)]
    [InlineData(VmExitKind.Stopped, 130, 130)]
    [InlineData(VmExitKind.Stopped, 0, 1)]
    [InlineData(VmExitKind.Error, 0, 1)]
    public void Every_failing_guest_status_is_a_failing_process_status(VmExitKind kind, int guest, int expected)
    {
        int status = GuestExitStatus.ToProcessExitCode(new VmExit(kind, guest, "test"));
        Assert.Equal(expected, status);
        Assert.InRange(status, 0, 255);
    }
}
