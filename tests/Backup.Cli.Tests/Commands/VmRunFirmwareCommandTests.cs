using Backup.TestSupport;

namespace Backup.Cli.Tests.Commands;

/// <summary>`backup vm run --firmware ...` driven as a user drives it: bad input exits 2 naming what is wrong.</summary>
public sealed class VmRunFirmwareCommandTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    [Fact]
    public void An_unknown_firmware_name_exits_2()
    {
        var (code, _, stderr) = BackupProcess.Run(Timeout, "vm", "run", "--firmware", "coreboot");
        Assert.Equal(2, code);
        Assert.Contains("--firmware 'coreboot' is unknown (known: opensbi+uboot)", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void A_firmware_file_that_is_text_exits_2_naming_the_file()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "#!/bin/sh\necho not firmware\n");
            var (code, _, stderr) = BackupProcess.Run(Timeout, "vm", "run", "--firmware", "opensbi+uboot", "--firmware-file", path);
            Assert.Equal(2, code);
            Assert.Contains($"'{path}': the firmware file is text", stderr, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Without_a_bootable_disk_u_boot_gives_up_and_the_command_exits_2()
    {
        var (code, stdout, stderr) = BackupProcess.Run(Timeout, "vm", "run", "--firmware", "opensbi+uboot");
        Assert.True(code == 2, $"exit {code}\n{stderr}\n{stdout}");
        Assert.Contains("OpenSBI v", stdout, StringComparison.Ordinal);
        Assert.Contains("U-Boot 20", stdout, StringComparison.Ordinal);
        Assert.Contains("U-Boot found nothing to boot", stderr, StringComparison.Ordinal);
    }
}
