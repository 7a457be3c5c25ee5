using Backup.Cli.Tests.Commands;
using Backup.Service.Data;

namespace Backup.Service.Tests.Vms;

/// <summary>`backup vm create --qemu-guest-agent`: stored in the definition, shown by create and in `vm list`'s AGENTS column.</summary>
public sealed class QemuGuestAgentCliTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);
    private readonly string _dir = Directory.CreateTempSubdirectory("cli-qga-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void The_flag_is_stored_shown_on_create_and_listed_beside_the_agent_channel()
    {
        var data = new ApplianceData(Path.Combine(_dir, "data"));
        string kernel = Path.Combine(_dir, "Image");
        File.WriteAllBytes(kernel, new byte[4096]);
        string Disk(string name)
        {
            string path = Path.Combine(_dir, name + ".img");
            File.WriteAllBytes(path, new byte[1 << 20]);
            return path;
        }

        string qga = Run("vm", "create", "with-qga", "--kernel", kernel, "--disk", Disk("a"), "--qemu-guest-agent");
        Assert.Contains("agents qga)", qga, StringComparison.Ordinal);
        Assert.Contains("\"qemuGuestAgent\": true", File.ReadAllText(data.VmDefinitionPath("with-qga")), StringComparison.Ordinal);
        Run("vm", "create", "with-both", "--kernel", kernel, "--disk", Disk("b"), "--qemu-guest-agent", "--agent-channel");
        Assert.Contains("agents -)", Run("vm", "create", "with-none", "--kernel", kernel, "--disk", Disk("c")), StringComparison.Ordinal);
        Assert.Contains("\"qemuGuestAgent\": false", File.ReadAllText(data.VmDefinitionPath("with-none")), StringComparison.Ordinal);

        string[] list = Run("vm", "list").Split('\n');
        Assert.Contains("AGENTS", list[0], StringComparison.Ordinal);
        Assert.Matches(@"^with-qga\s.*\sqga\s", Assert.Single(list, l => l.StartsWith("with-qga ", StringComparison.Ordinal)));
        Assert.Matches(@"^with-both\s.*\sqga\+channel\s", Assert.Single(list, l => l.StartsWith("with-both ", StringComparison.Ordinal)));
        Assert.Matches(@"^with-none\s.*\s-\s", Assert.Single(list, l => l.StartsWith("with-none ", StringComparison.Ordinal)));
    }

    private string Run(params string[] args)
    {
        var result = BackupProcess.Run(Timeout, ["--data", Path.Combine(_dir, "data"), .. args]);
        Assert.True(result.ExitCode == 0, $"{string.Join(' ', args)}: exit {result.ExitCode}\n{result.StdOut}{result.StdErr}");
        return result.StdOut;
    }
}
