namespace Backup.Cli.Tests.Commands;

/// <summary>`backup vm run --initrd`: what cannot boot is refused with exit 2 and the file named.</summary>
public sealed class VmRunInitrdCommandTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(1);
    private readonly string _dir = Directory.CreateTempSubdirectory("vm-initrd-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_missing_initrd_exits_2_naming_it()
    {
        string missing = Path.Combine(_dir, "no-such-initrd.img");
        var (code, _, stderr) = BackupProcess.Run(Timeout, "vm", "run", "--kernel", "/etc/hostname", "--initrd", missing);
        Assert.Equal(2, code);
        Assert.Equal($"backup: initrd '{missing}' does not exist", stderr.Trim());
    }

    [Fact]
    public void An_initrd_larger_than_ram_exits_2_naming_it()
    {
        string big = File(Path.Combine(_dir, "big.img"), 17 << 20);
        var (code, _, stderr) = BackupProcess.Run(Timeout, "vm", "run", "--kernel", "/etc/hostname", "--initrd", big, "--memory", "16M");
        Assert.Equal(2, code);
        Assert.StartsWith($"backup: initrd '{big}' ({17 << 20} bytes) is larger than the VM's 16 MiB of RAM", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void An_initrd_that_does_not_fit_beside_the_kernel_exits_2_naming_both()
    {
        string kernel = File(Path.Combine(_dir, "Image"), 6 << 20);
        string initrd = File(Path.Combine(_dir, "initrd.img"), 7 << 20);
        var (code, _, stderr) = BackupProcess.Run(Timeout, "vm", "run", "--kernel", kernel, "--initrd", initrd, "--memory", "16M");
        Assert.Equal(2, code);
        Assert.Contains($"initrd '{initrd}' ({7 << 20} bytes) does not fit in 16 MiB of RAM beside the kernel '{kernel}'", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void A_kernel_larger_than_ram_exits_2_naming_it()
    {
        string kernel = File(Path.Combine(_dir, "Image"), 20 << 20);
        var (code, _, stderr) = BackupProcess.Run(Timeout, "vm", "run", "--kernel", kernel, "--memory", "16M");
        Assert.Equal(2, code);
        Assert.StartsWith($"backup: kernel '{kernel}' ({20 << 20} bytes, loaded 2 MiB into RAM) does not fit in 16 MiB of RAM", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void An_initrd_for_a_bare_metal_elf_exits_2()
    {
        string initrd = File(Path.Combine(_dir, "initrd.img"), 4096);
        var (code, _, stderr) = BackupProcess.Run(Timeout, "vm", "run", "--elf", "/etc/hostname", "--initrd", initrd);
        Assert.Equal(2, code);
        Assert.Contains("needs a kernel", stderr, StringComparison.Ordinal);
    }

    private static string File(string path, int bytes)
    {
        System.IO.File.WriteAllBytes(path, new byte[bytes]);
        return path;
    }
}
