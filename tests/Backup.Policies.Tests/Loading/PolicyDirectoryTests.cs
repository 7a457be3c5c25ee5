using Backup.Policies.Loading;
using Backup.Policies.Model;
using Backup.Policies.Retention;
using Backup.Policies.Tests.Support;

namespace Backup.Policies.Tests.Loading;

public sealed class PolicyDirectoryTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("policies-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_folder, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Loads_yaml_and_yml_files_in_name_order_and_skips_the_rest()
    {
        Write("b.yml", PolicyText.Minimal("b"));
        Write("a.yaml", PolicyText.Minimal("a"));
        Write(".a.yaml.swp", "not yaml at all: [");
        Write(".hidden.yaml", PolicyText.Minimal("hidden"));
        Write("notes.txt", "free text");
        Write("old.yaml.bak", "name: [");
        Write("sub/c.yaml", PolicyText.Minimal("c"));

        var set = PolicySet.LoadDirectory(_folder, "/data");

        Assert.Equal(["a", "b"], set.Policies.Select(p => p.Name));
        Assert.Equal(Path.Combine(_folder, "a.yaml"), set.Policies[0].Location.File);
    }

    [Fact]
    public void An_empty_folder_is_an_empty_set()
    {
        Assert.Empty(PolicySet.LoadDirectory(_folder, "/data").Policies);
    }

    [Fact]
    public void One_bad_file_refuses_the_whole_set_and_every_error_is_reported()
    {
        Write("a.yaml", PolicyText.Minimal("a"));
        var bad = Write("b.yaml", PolicyText.Minimal("b", "retention:\n  keep-daily: -7\n"));
        var worse = Write("c.yaml", "name: c\nvms: [x]\nschedule: \"0 0 * * *\"\nrepository: r\nbogus: 1\n");

        var e = Assert.Throws<PolicyException>(() => PolicySet.LoadDirectory(_folder, "/data"));

        Assert.Equal($"{bad}:6: 'keep-daily' must be 0 or more, not -7", e.Errors[0].ToString());
        Assert.Equal([(worse, 3), (worse, 5)], e.Errors.Skip(1).Select(x => (x.File, x.Line)));
        Assert.Equal(bad, e.File);
        Assert.Equal(6, e.Line);
        Assert.StartsWith($"{bad}:6: 'keep-daily' must be 0 or more, not -7{Environment.NewLine}{worse}:3: ", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Duplicate_names_across_files_are_refused()
    {
        var first = Write("10-web.yaml", PolicyText.Minimal("web"));
        var second = Write("20-web-again.yaml", "\n\n" + PolicyText.Minimal("web"));

        var e = Assert.Throws<PolicyException>(() => PolicySet.LoadDirectory(_folder, "/data"));

        Assert.Equal($"{second}:3: policy name 'web' is already used at {first}:1", e.Message);
    }

    [Fact]
    public void A_file_that_is_not_utf8_is_refused()
    {
        var path = Path.Combine(_folder, "latin1.yaml");
        File.WriteAllBytes(path, [.. "name: caf"u8, 0xE9, (byte)'\n']);

        var e = Assert.Throws<PolicyException>(() => PolicySet.LoadDirectory(_folder, "/data"));

        Assert.Equal($"{path}:0: the file is not UTF-8 text", e.Message);
    }

    [Fact]
    public void A_missing_folder_is_named()
    {
        var missing = Path.Combine(_folder, "nope");

        var e = Assert.Throws<DirectoryNotFoundException>(() => PolicySet.LoadDirectory(missing, "/data"));

        Assert.Contains(missing, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_shipped_default_policy_protects_the_demo_vm_every_5_minutes()
    {
        var set = PolicySet.LoadDirectory(Path.Combine(PolicyText.RepositoryRoot(), "policies"), "/var/lib/backup");

        var demo = Assert.Single(set.Policies);
        Assert.Equal("demo", demo.Name);
        Assert.True(demo.Enabled);
        Assert.Equal(["demo"], demo.Vms.Names);
        Assert.Equal([demo], set.For("demo"));
        Assert.Equal("0 */5 * * * ?", demo.Schedule.Expression);
        var after = new DateTimeOffset(2026, 11, 20, 12, 3, 0, TimeSpan.Zero);
        Assert.Equal(after.AddMinutes(2), demo.NextFireTime(after));
        Assert.Equal(after.AddMinutes(7), demo.NextFireTime(after.AddMinutes(2)));
        Assert.Equal(RepositoryKind.Folder, demo.Repository.Kind);
        Assert.Equal("/var/lib/backup/repository", demo.Repository.Url);
        Assert.Same(PassphraseFromDefaultKeyFile.Instance, demo.Passphrase);
        Assert.Equal(ConsistencyMode.Crash, demo.Consistency);
        Assert.Equal(new RetentionRules(keepLast: 12, keepHourly: 24, keepDaily: 7), demo.Retention);
        Assert.Null(demo.Verification);
    }

    [Fact]
    public void The_policy_examples_in_the_documentation_load()
    {
        var doc = File.ReadAllText(Path.Combine(PolicyText.RepositoryRoot(), "docs", "policies.md"));
        var examples = doc.Split("```yaml\n").Skip(1).Select(block => block[..block.IndexOf("```", StringComparison.Ordinal)]).Where(block => block.Contains("name:", StringComparison.Ordinal)).ToList();
        for (var i = 0; i < examples.Count; i++)
        {
            Write($"example-{i}.yaml", examples[i]);
        }

        var set = PolicySet.LoadDirectory(_folder, "/data");

        Assert.Equal(["db-nightly", "web", "everything-weekly"], set.Policies.Select(p => p.Name));
        Assert.Equal(["db-nightly", "everything-weekly"], set.For("db-1").Select(p => p.Name));
    }
}
