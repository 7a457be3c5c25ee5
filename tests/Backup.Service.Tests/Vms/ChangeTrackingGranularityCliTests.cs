using System.Buffers.Binary;
using Backup.Cli.Tests.Commands;
using Backup.Service.Data;
using Backup.TestSupport;

namespace Backup.Service.Tests.Vms;

/// <summary>
/// The changed-block granularity as an operator sets it: `vm create --cbt-granularity` and `--disk PATH,cbt=SIZE`
/// (checked, with clear errors), shown by `vm list`, used by backups (the sidecars carry it, incrementals stay
/// incremental), and changed by `vm set`: the next backup reads the affected disk in full and says why, in its output
/// and in `backup jobs`, and the one after is incremental again.
/// </summary>
public sealed class ChangeTrackingGranularityCliTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);
    private readonly string _dir = Directory.CreateTempSubdirectory("cli-cbt-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void The_granularity_is_defined_listed_used_and_a_change_means_one_full_read_that_says_why()
    {
        var data = new ApplianceData(Path.Combine(_dir, "data"));
        string d = data.Root;
        var guest = RealisticGuest.Locate();
        var (root, disk1) = guest.CopyDisks(_dir);
        string[] create = ["--data", d, "vm", "create", "demo", "--kernel", RealisticGuest.KernelPath, "--cmdline", guest.CommandLine, "--disk", root];

        foreach (var (args, expected) in new (string[], string)[]
        {
            ([.. create, "--disk", disk1, "--cbt-granularity", "3000"], "--cbt-granularity '3000': a granularity of 3000 bytes is not a power of two from 4K to 64M"),
            ([.. create, "--disk", disk1, "--cbt-granularity", "2K"], "from 4K to 64M"),
            ([.. create, "--disk", disk1, "--cbt-granularity", "lots"], "'lots' is not a size"),
            ([.. create, "--disk", disk1 + ",cbt=128M"], $"--disk {disk1},cbt=128M: cbt '128M': a granularity of {128 << 20} bytes"),
        })
        {
            var refused = BackupProcess.Run(Timeout, args);
            Assert.True(refused.ExitCode == 2, $"{string.Join(' ', args)}: exit {refused.ExitCode}\n{refused.StdOut}{refused.StdErr}");
            Assert.Contains(expected, refused.StdErr, StringComparison.Ordinal);
        }

        Assert.False(File.Exists(data.VmDefinitionPath("demo")));

        var created = BackupProcess.Run(Timeout, [.. create, "--disk", disk1 + ",cbt=1M", "--cbt-granularity", "256K"]);
        Assert.True(created.ExitCode == 0, created.StdErr);
        Assert.Contains("change tracking disk0 256K, disk1 1M", created.StdOut, StringComparison.Ordinal);
        Has(Run("vm", "list"), " 256K,1M ");

        string first = Run("backup", "demo");
        Has(first, "read in full: disk0: change tracking reports every block changed: there is no change-tracking sidecar");
        string state = data.VmStateDirectory("demo");
        Assert.Equal(256 << 10, SidecarGranularity(Path.Combine(state, "disk0.cbt")));
        Assert.Equal(1 << 20, SidecarGranularity(Path.Combine(state, "disk1.cbt")));
        string second = Run("backup", "demo");
        Assert.DoesNotContain("read in full", second, StringComparison.Ordinal);
        Has(second, "0 B of");

        var badSet = BackupProcess.Run(Timeout, "--data", d, "vm", "set", "demo", "--cbt-granularity", "512K", "--disk", "2");
        Assert.Equal(2, badSet.ExitCode);
        Assert.Contains("VM 'demo' has 2 disks", badSet.StdErr, StringComparison.Ordinal);
        string set = Run("vm", "set", "demo", "--cbt-granularity", "512K", "--disk", "0");
        Has(set, "change tracking disk0 512K, disk1 1M");
        Has(set, "disk0: the next backup reads the whole disk once");
        Has(Run("vm", "list"), " 512K,1M ");

        string third = Run("backup", "demo");
        Has(third, "read in full: disk0: change tracking reports every block changed: the change-tracking sidecar '");
        Has(third, $"tracks {256 << 10}-byte blocks but {512 << 10}-byte blocks are configured");
        Assert.DoesNotContain("disk1:", third, StringComparison.Ordinal);
        Assert.Equal(512 << 10, SidecarGranularity(Path.Combine(state, "disk0.cbt")));
        Has(Run("jobs", "demo"), $"{512 << 10}-byte blocks are configured");

        string fourth = Run("backup", "demo");
        Assert.DoesNotContain("read in full", fourth, StringComparison.Ordinal);

        // Back to the VM's granularity ('default' clears the disk's own); the VM-wide value changes both disks' defaults.
        Has(Run("vm", "set", "demo", "--cbt-granularity", "default", "--disk", "0"), "disk0 256K, disk1 1M");
        Has(Run("vm", "set", "demo", "--cbt-granularity", "default"), "disk0 64K, disk1 1M");
    }

    private static void Has(string text, string expected) => Assert.True(text.Contains(expected, StringComparison.Ordinal), $"'{expected}' not in:\n{text}");

    private string Run(params string[] args)
    {
        var result = BackupProcess.Run(Timeout, ["--data", Path.Combine(_dir, "data"), .. args]);
        Assert.True(result.ExitCode == 0, $"{string.Join(' ', args)}: exit {result.ExitCode}\n{result.StdOut}{result.StdErr}");
        return result.StdOut;
    }

    /// <summary>The granularity field of a sidecar (docs/disk-state.md, offset 20).</summary>
    private static int SidecarGranularity(string path)
    {
        var header = File.ReadAllBytes(path);
        Assert.Equal("BDCBTMAP"u8.ToArray(), header[..8]);
        return (int)BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(20));
    }
}
