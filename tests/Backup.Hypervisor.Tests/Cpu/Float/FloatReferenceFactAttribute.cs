using Backup.Hypervisor.Tests.DeviceTree;

namespace Backup.Hypervisor.Tests.Cpu.Float;

/// <summary>
/// A fact that needs the RISC-V reference (<see cref="FloatReference"/>): skipped, saying what is missing, when the
/// cross compiler or QEMU's user-mode emulator is not installed.
/// </summary>
public sealed class FloatReferenceFactAttribute : FactAttribute
{
    public FloatReferenceFactAttribute()
    {
        if (ExternalTool.Find(FloatReference.Compiler) is null)
        {
            Skip = $"{FloatReference.Compiler} (package gcc-riscv64-linux-gnu) is not installed; cannot build the reference program";
        }
        else if (!File.Exists(FloatReference.CrossLibc))
        {
            Skip = $"{FloatReference.CrossLibc} (package libc6-dev-riscv64-cross) is missing; cannot link the static reference program";
        }
        else if (ExternalTool.Find(FloatReference.Emulator) is null)
        {
            Skip = $"{FloatReference.Emulator} (package qemu-user) is not installed; cannot run the reference program";
        }
    }
}
