namespace Backup.Hypervisor.Devices;

/// <summary>What the guest asked the machine to do through <see cref="SysconPower"/>.</summary>
public enum PowerRequestKind
{
    /// <summary>Power off with a passing status (the guest wrote 0x5555).</summary>
    PowerOff,

    /// <summary>Reset the machine (the guest wrote 0x7777).</summary>
    Reboot,

    /// <summary>Power off with a failure exit code (the guest wrote 0x3333 | code &lt;&lt; 16).</summary>
    Fail,
}
