namespace Backup.Hypervisor.Cpu;

/// <summary>RISC-V privilege levels (encoding as in mstatus.MPP).</summary>
public enum PrivilegeMode : byte
{
    User = 0,
    Supervisor = 1,
    Machine = 3,
}
