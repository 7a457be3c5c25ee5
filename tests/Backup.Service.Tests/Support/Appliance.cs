using Backup.Engine.Tests.Support;
using Backup.Engine.Vms;
using Backup.Service.Data;
using Backup.Service.Vms;

namespace Backup.Service.Tests.Support;

/// <summary>A data folder holding the demo VM (the realistic guest over copies of its disks).</summary>
internal static class Appliance
{
    public static (ApplianceData Data, VmDefinition Demo) WithDemoVm(string directory, bool autostart)
    {
        var data = new ApplianceData(Path.Combine(directory, "data"));
        data.EnsureCreated();
        Directory.CreateDirectory(Path.Combine(directory, "disks"));
        var demo = new VmStore(data).Create(DemoVm.Create(Path.Combine(directory, "disks")) with { Autostart = autostart });
        return (data, demo);
    }

    public static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, Func<string> describe)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"not reached within {timeout}: {describe()}");
            }

            await Task.Delay(200);
        }
    }
}
