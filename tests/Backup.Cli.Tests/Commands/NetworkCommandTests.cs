namespace Backup.Cli.Tests.Commands;

/// <summary>`backup network create|list|delete` and `backup vm create --nic/--forward`, as an admin drives them.</summary>
public sealed class NetworkCommandTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(1);
    private readonly string _dir = Directory.CreateTempSubdirectory("network-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private (int Code, string Out, string Err) Backup(params string[] args) => BackupProcess.Run(Timeout, ["--data", _dir, .. args]);

    [Fact]
    public void Networks_are_created_listed_used_and_deleted_only_when_unused()
    {
        Assert.Equal((0, "created network lab: subnet 10.100.0.0/24, domain lab.lab\n", string.Empty), Backup("network", "create", "lab"));
        Assert.Equal(0, Backup("network", "create", "dmz", "--subnet", "192.168.7.0/24", "--domain", "dmz.example").Code);
        var overlap = Backup("network", "create", "other", "--subnet", "10.100.0.128/25");
        Assert.Equal(2, overlap.Code);
        Assert.Contains("overlaps network 'lab' (10.100.0.0/24)", overlap.Err, StringComparison.Ordinal);
        Assert.Equal(2, Backup("network", "create", "lab").Code);

        string kernel = Path.Combine(_dir, "Image");
        File.WriteAllBytes(kernel, new byte[4096]);
        var created = Backup("vm", "create", "db", "--kernel", kernel, "--nic", "network=lab", "--nic", "network=dmz,mac=52:54:00:0A:0B:0C",
            "--forward", "tcp:127.0.0.1:15432-:5432");
        Assert.Equal(0, created.Code);
        Assert.Matches("eth0: network=lab,mac=52:54:00:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}\n", created.Out);
        Assert.Contains("eth1: network=dmz,mac=52:54:00:0a:0b:0c\n", created.Out, StringComparison.Ordinal);
        Assert.Contains("forward tcp:127.0.0.1:15432-:5432\n", created.Out, StringComparison.Ordinal);

        var sameMac = Backup("vm", "create", "web", "--kernel", kernel, "--nic", "network=dmz,mac=52:54:00:0a:0b:0c");
        Assert.Equal((2, "backup: VM 'web': MAC 52:54:00:0a:0b:0c already belongs to VM 'db'\n"), (sameMac.Code, sameMac.Err));
        var samePort = Backup("vm", "create", "web", "--kernel", kernel, "--nic", "network=lab", "--forward", "tcp:127.0.0.1:15432-:80");
        Assert.Equal((2, "backup: VM 'web': host port 127.0.0.1:15432 is already forwarded to VM 'db'\n"), (samePort.Code, samePort.Err));
        var noNetwork = Backup("vm", "create", "web", "--kernel", kernel, "--nic", "network=nowhere");
        Assert.Equal(2, noNetwork.Code);
        Assert.Contains("no network named 'nowhere' (create it with `backup network create nowhere`)", noNetwork.Err, StringComparison.Ordinal);
        var publicForward = Backup("vm", "create", "web", "--kernel", kernel, "--nic", "network=lab", "--forward", "tcp:0.0.0.0:8080-:80");
        Assert.Equal(2, publicForward.Code);
        Assert.Contains("not a loopback address", publicForward.Err, StringComparison.Ordinal);

        var list = Backup("network", "list");
        Assert.Equal(0, list.Code);
        Assert.Matches(@"dmz +192\.168\.7\.0/24 +dmz\.example +db\n", list.Out);
        Assert.Matches(@"lab +10\.100\.0\.0/24 +lab\.lab +db\n", list.Out);

        var busy = Backup("network", "delete", "lab");
        Assert.Equal((2, "backup: network 'lab' is used by VM db; remove their NICs first\n"), (busy.Code, busy.Err));
        Assert.Equal(0, Backup("network", "create", "spare").Code);
        Assert.Equal((0, "deleted network spare\n", string.Empty), Backup("network", "delete", "spare"));
        Assert.Equal(2, Backup("network", "delete", "spare").Code);
        Assert.DoesNotContain("spare", Backup("network", "list").Out, StringComparison.Ordinal);
    }
}
