namespace Backup.Hypervisor.Tests.DeviceTree;

/// <summary>A fact that needs the device tree compiler; skipped with a clear reason when dtc is not installed.</summary>
public sealed class DtcFactAttribute : FactAttribute
{
    public DtcFactAttribute()
    {
        if (ExternalTool.Find("dtc") is null)
        {
            Skip = "dtc (package device-tree-compiler) is not installed; cannot decode DTBs with the reference tool";
        }
    }
}
