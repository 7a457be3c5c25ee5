namespace Backup.Hypervisor.Devices;

/// <summary>
/// A power request written by the guest to <see cref="SysconPower"/>. <see cref="ExitCode"/> is 0 for
/// <see cref="PowerRequestKind.PowerOff"/> and <see cref="PowerRequestKind.Reboot"/>, and the guest's 16-bit code
/// for <see cref="PowerRequestKind.Fail"/>.
/// </summary>
public sealed record PowerRequest(PowerRequestKind Kind, int ExitCode)
{
    /// <summary>A passing power-off.</summary>
    public static PowerRequest PowerOff { get; } = new(PowerRequestKind.PowerOff, 0);

    /// <summary>A machine reset.</summary>
    public static PowerRequest Reboot { get; } = new(PowerRequestKind.Reboot, 0);

    /// <summary>A failing power-off with the guest's exit code.</summary>
    public static PowerRequest Fail(int exitCode) => new(PowerRequestKind.Fail, exitCode);
}
