using Backup.Hypervisor.Tests.DeviceTree;

namespace Backup.Hypervisor.Tests.Boot;

/// <summary>A fact that assembles and links RISC-V code; skipped with a clear reason when binutils are missing.</summary>
public sealed class RiscvToolchainFactAttribute : FactAttribute
{
    public RiscvToolchainFactAttribute()
    {
        foreach (var tool in TestProgram.Tools)
        {
            if (ExternalTool.Find(tool) is null)
            {
                Skip = $"{tool} (package binutils-riscv64-linux-gnu) is not installed; cannot build the test ELF";
                return;
            }
        }
    }
}
