using Backup.Policies.Model;
using Backup.Policies.Retention;
using Backup.Policies.Tests.Support;

namespace Backup.Policies.Tests.Loading;

public sealed class PolicyParsingTests
{
    [Fact]
    public void Minimal_policy_gets_the_documented_defaults()
    {
        var policy = Assert.Single(PolicyText.Load(PolicyText.Minimal("web-hourly")).Policies);

        Assert.Equal("web-hourly", policy.Name);
        Assert.True(policy.Enabled);
        Assert.Equal(["web"], policy.Vms.Names);
        Assert.False(policy.Vms.IsAll);
        Assert.Equal("0 0 * * * ?", policy.Schedule.Expression);
        Assert.False(policy.Schedule.TimeZoneStated);
        Assert.Equal(RepositoryKind.Folder, policy.Repository.Kind);
        Assert.Equal("/srv/repo", policy.Repository.Url);
        Assert.Same(PassphraseFromDefaultKeyFile.Instance, policy.Passphrase);
        Assert.Equal(ConsistencyMode.Crash, policy.Consistency);
        Assert.True(policy.Retention.IsKeepEverything);
        Assert.Null(policy.Verification);
        Assert.Equal(new PolicyLocation("p.yaml", 1, 7), policy.Location);
    }

    [Fact]
    public void Every_key_is_read()
    {
        const string Yaml = """
            name: db
            enabled: false
            vms:
              - db-1
              - db.replica_2
            schedule: "0 30 2 ? * MON-FRI"
            time-zone: Europe/Berlin
            repository: s3://backups/db?endpoint=http://127.0.0.1:9000&region=eu
            passphrase: env:DB_REPO_PASSPHRASE
            consistency: application
            agent-timeout: 90s
            retention:
              keep-last: 3
              keep-hourly: 0
              keep-daily: 7
              keep-weekly: 4
              keep-monthly: 12
              keep-yearly: 5
            verification:
              schedule: "0 0 4 ? * SUN"
              sample-percent: 12.5
            """;

        var policy = Assert.Single(PolicyText.Load(Yaml).Policies);

        Assert.Equal("db", policy.Name);
        Assert.False(policy.Enabled);
        Assert.Equal(["db-1", "db.replica_2"], policy.Vms.Names);
        Assert.Equal("0 30 2 ? * MON-FRI", policy.Schedule.Expression);
        Assert.Equal("Europe/Berlin", policy.Schedule.TimeZone.Id);
        Assert.True(policy.Schedule.TimeZoneStated);
        Assert.Equal(RepositoryKind.S3, policy.Repository.Kind);
        Assert.Equal("s3://backups/db?endpoint=http://127.0.0.1:9000&region=eu", policy.Repository.Url);
        Assert.Equal(new PassphraseFromEnvironment("DB_REPO_PASSPHRASE"), policy.Passphrase);
        Assert.Equal(ConsistencyMode.Application, policy.Consistency);
        Assert.Equal(TimeSpan.FromSeconds(90), policy.AgentTimeout);
        Assert.Equal(new RetentionRules(keepLast: 3, keepDaily: 7, keepWeekly: 4, keepMonthly: 12, keepYearly: 5), policy.Retention);
        Assert.NotNull(policy.Verification);
        Assert.Equal("0 0 4 ? * SUN", policy.Verification.Schedule.Expression);
        Assert.Equal("Europe/Berlin", policy.Verification.Schedule.TimeZone.Id);
        Assert.Equal(12.5, policy.Verification.SamplePercent);
    }

    [Fact]
    public void Star_selects_every_vm()
    {
        var policy = Assert.Single(PolicyText.Load("name: all\nvms: \"*\"\nschedule: 0 0 1 * * ?\nrepository: r\n").Policies);

        Assert.True(policy.Vms.IsAll);
        Assert.True(policy.Covers("anything"));
    }

    [Theory]
    [InlineData("repository", "/var/lib/backup/repository", RepositoryKind.Folder)]
    [InlineData("sub/dir/../repo", "/var/lib/backup/sub/repo", RepositoryKind.Folder)]
    [InlineData("/mnt/nas/repo", "/mnt/nas/repo", RepositoryKind.Folder)]
    [InlineData("file:///mnt/nas/repo", "/mnt/nas/repo", RepositoryKind.Folder)]
    [InlineData("s3://my-bucket/prefix/x", "s3://my-bucket/prefix/x", RepositoryKind.S3)]
    [InlineData("azure://container-1/vms", "azure://container-1/vms", RepositoryKind.Azure)]
    public void Repository_urls_are_classified_and_relative_folders_resolved_in_the_data_folder(string written, string url, RepositoryKind kind)
    {
        var policy = Assert.Single(PolicyText.Load($"name: p\nvms: [a]\nschedule: 0 0 1 * * ?\nrepository: {written}\n").Policies);

        Assert.Equal(kind, policy.Repository.Kind);
        Assert.Equal(url, policy.Repository.Url);
        Assert.Equal(written, policy.Repository.Written);
    }

    [Theory]
    [InlineData("none", "none")]
    [InlineData("env:REPO_PASS", "env:REPO_PASS")]
    [InlineData("file:/etc/backup/pass", "file:/etc/backup/pass")]
    [InlineData("file:secrets/pass", "file:/var/lib/backup/secrets/pass")]
    public void Passphrase_sources(string written, string parsed)
    {
        var policy = Assert.Single(PolicyText.Load(PolicyText.Minimal(extra: $"passphrase: {written}\n")).Policies);

        Assert.Equal(parsed, policy.Passphrase.ToString());
        switch (policy.Passphrase)
        {
            case PassphraseFromFile file:
                Assert.True(Path.IsPathFullyQualified(file.Path));
                break;
            case PassphraseFromEnvironment env:
                Assert.Equal("REPO_PASS", env.Variable);
                break;
            case PassphraseFromDefaultKeyFile:
                Assert.Equal("none", written);
                break;
            default:
                Assert.Fail($"unexpected {policy.Passphrase.GetType()}");
                break;
        }
    }

    [Theory]
    [InlineData("crash", ConsistencyMode.Crash)]
    [InlineData("application", ConsistencyMode.Application)]
    public void Consistency_modes(string written, ConsistencyMode mode)
    {
        var policy = Assert.Single(PolicyText.Load(PolicyText.Minimal(extra: $"consistency: {written}\n")).Policies);

        Assert.Equal(mode, policy.Consistency);
        Assert.Equal(Policy.DefaultAgentTimeout, policy.AgentTimeout);
    }

    [Theory]
    [InlineData("1s", 1)]
    [InlineData("45s", 45)]
    [InlineData("5m", 300)]
    [InlineData("1h", 3600)]
    public void Agent_timeouts(string written, int seconds)
    {
        var policy = Assert.Single(PolicyText.Load(PolicyText.Minimal(extra: $"consistency: application\nagent-timeout: {written}\n")).Policies);

        Assert.Equal(TimeSpan.FromSeconds(seconds), policy.AgentTimeout);
    }

    [Theory]
    [InlineData("true", true)]
    [InlineData("false", false)]
    [InlineData("True", true)]
    [InlineData("FALSE", false)]
    public void Enabled_flag(string written, bool enabled)
    {
        var policy = Assert.Single(PolicyText.Load(PolicyText.Minimal(extra: $"enabled: {written}\n")).Policies);

        Assert.Equal(enabled, policy.Enabled);
    }

    [Fact]
    public void Verification_sample_defaults_to_everything()
    {
        var policy = Assert.Single(PolicyText.Load(PolicyText.Minimal(extra: "verification:\n  schedule: 0 0 3 ? * SUN\n")).Policies);

        Assert.Equal(100, policy.Verification!.SamplePercent);
    }

    [Fact]
    public void Retention_keys_left_out_are_zero()
    {
        var policy = Assert.Single(PolicyText.Load(PolicyText.Minimal(extra: "retention:\n  keep-daily: 7\n")).Policies);

        Assert.Equal(new RetentionRules(keepDaily: 7), policy.Retention);
        Assert.Equal("keep-daily 7", policy.Retention.ToString());
    }

    [Fact]
    public void A_file_may_hold_a_list_of_policies_in_order()
    {
        const string Yaml = """
            - name: first
              vms: [a]
              schedule: 0 0 1 * * ?
              repository: r1
            - name: second
              vms: "*"
              schedule: 0 0 2 * * ?
              repository: r2
            """;

        var set = PolicyText.Load(Yaml, "list.yaml");

        Assert.Equal(["first", "second"], set.Policies.Select(p => p.Name));
        Assert.Equal(new PolicyLocation("list.yaml", 5, 9), set.Policies[1].Location);
    }

    [Fact]
    public void For_returns_the_enabled_policies_covering_a_vm()
    {
        var set = PolicyText.Load(
            ("a.yaml", PolicyText.Minimal("a") ),
            ("b.yaml", "name: b\nvms: \"*\"\nschedule: 0 0 1 * * ?\nrepository: r\n"),
            ("c.yaml", "name: c\nenabled: false\nvms: [web, db]\nschedule: 0 0 1 * * ?\nrepository: r\n"),
            ("d.yaml", "name: d\nvms: [db]\nschedule: 0 0 1 * * ?\nrepository: r\n"));

        Assert.Equal(["a", "b"], set.For("web").Select(p => p.Name));
        Assert.Equal(["a", "b", "c"], set.For("web", includeDisabled: true).Select(p => p.Name));
        Assert.Equal(["b", "d"], set.For("db").Select(p => p.Name));
        Assert.Equal(["b"], set.For("other").Select(p => p.Name));
        Assert.DoesNotContain(set.For("WEB"), p => p.Name == "a");
        Assert.Equal("d", set.Find("d")!.Name);
        Assert.Null(set.Find("zzz"));
    }
}
