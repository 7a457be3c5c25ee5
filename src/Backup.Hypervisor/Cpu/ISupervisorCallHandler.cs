namespace Backup.Hypervisor.Cpu;

/// <summary>
/// Firmware served by the host: receives ECALLs made from S-mode (the SBI) instead of trapping to M-mode,
/// as KVM does for RISC-V guests. The handler reads a0-a7 and writes a0/a1 through <see cref="Hart"/>.
/// </summary>
public interface ISupervisorCallHandler
{
    void HandleSupervisorCall(Hart hart);
}
