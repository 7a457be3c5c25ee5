using Backup.Engine.Backups;
using Backup.Engine.Vms;
using Backup.Hypervisor.Boot;

namespace Backup.Engine.Tests.Vms;

/// <summary>A VM that boots through guest firmware: validation, the configuration it runs with, its boot files, JSON.</summary>
public sealed class FirmwareVmDefinitionTests
{
    private static readonly VmDefinition Firmware = new()
    {
        Name = "fw1",
        Firmware = FirmwareBoot.OpenSbiUBootName,
        Disks = [new VmDiskDefinition { Path = "/disk.img" }],
    };

    [Fact]
    public void It_runs_opensbi_and_u_boot_and_carries_them_as_its_boot_files()
    {
        Firmware.Validate();
        var config = Firmware.ToConfiguration([], kernelPath: "/recovered/kernel");
        Assert.Null(config.KernelPath);
        Assert.Equal(FirmwareBoot.DefaultOpenSbiPath, config.Firmware!.FirmwarePath);
        Assert.Equal(FirmwareBoot.DefaultUBootPath, config.Firmware.PayloadPath);
        Assert.Equal([(PointStreams.Firmware, FirmwareBoot.DefaultOpenSbiPath), (PointStreams.FirmwarePayload, FirmwareBoot.DefaultUBootPath)], Firmware.BootFiles);

        var recovered = Firmware.WithBootFiles(new Dictionary<string, string> { [PointStreams.Firmware] = "/r/firmware", [PointStreams.FirmwarePayload] = "/r/firmware-payload" });
        Assert.Equal("/r/firmware", recovered.ToConfiguration([]).Firmware!.FirmwarePath);
        Assert.Equal("/r/firmware-payload", recovered.ToConfiguration([]).Firmware!.PayloadPath);

        var json = VmDefinition.FromJson(recovered.ToJson(), "test");
        Assert.Equal(recovered.Firmware, json.Firmware);
        Assert.Equal("/r/firmware-payload", json.FirmwarePayload);
        Assert.DoesNotContain("bootFiles", recovered.ToJson(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void A_kernel_vm_still_carries_its_kernel()
    {
        var kernel = new VmDefinition { Name = "k1", Kernel = "/boot/Image" };
        Assert.Equal([(PointStreams.Kernel, "/boot/Image")], kernel.BootFiles);
        Assert.Null(kernel.ToConfiguration([]).Firmware);
    }

    [Theory]
    [InlineData("coreboot", "", 256, "firmware 'coreboot' is unknown")]
    [InlineData("opensbi+uboot", "/boot/Image", 256, "both a kernel and firmware")]
    [InlineData("opensbi+uboot", "", 128, "at least 256 MiB")]
    public void Bad_firmware_definitions_are_refused(string firmware, string kernel, int memoryMiB, string expected)
    {
        var bad = Firmware with { Firmware = firmware, Kernel = kernel, MemoryBytes = (ulong)memoryMiB << 20 };
        Assert.Contains(expected, Assert.Throws<ArgumentException>(bad.Validate).Message, StringComparison.Ordinal);
        var files = new VmDefinition { Name = "k2", Kernel = "/boot/Image", FirmwareFile = "/fw.bin" };
        Assert.Contains("does not boot through firmware", Assert.Throws<ArgumentException>(files.Validate).Message, StringComparison.Ordinal);
    }
}
