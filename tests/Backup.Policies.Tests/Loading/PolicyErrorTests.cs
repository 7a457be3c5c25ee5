using Backup.Policies.Tests.Support;

namespace Backup.Policies.Tests.Loading;

public sealed class PolicyErrorTests
{
    private const string Head = "name: p\nvms: [web]\nschedule: \"0 0 * * * ?\"\nrepository: /srv/repo\n";

    [Fact]
    public void Unknown_key_names_the_key_its_line_and_the_known_keys()
    {
        var e = PolicyText.Fails(Head + "keep_last: 3\n");

        Assert.Equal("p.yaml", e.File);
        Assert.Equal(5, e.Line);
        Assert.Equal(1, e.Column);
        Assert.Equal("p.yaml:5: unknown key 'keep_last' in a policy; known keys: name, enabled, vms, schedule, time-zone, repository, passphrase, consistency, agent-timeout, retention, verification", e.Message);
        Assert.Equal(e.Message, e.Errors.Single().ToString());
    }

    [Fact]
    public void Misspelt_key_gets_a_suggestion()
    {
        var e = PolicyText.Fails(Head + "Agent_Timeout: 30s\n");

        Assert.Contains("did you mean 'agent-timeout'?", e.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_retention_key_points_inside_the_section()
    {
        var e = PolicyText.Fails(Head + "retention:\n  keep-last: 3\n  keep-minutely: 5\n");

        Assert.Equal((7, 3), (e.Line, e.Column));
        Assert.StartsWith("unknown key 'keep-minutely' in 'retention'", e.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("enabled: yes\n", 5, "'enabled' must be true or false, not 'yes'")]
    [InlineData("enabled: \"true\"\n", 5, "'enabled' must be true or false, not the quoted text \"true\"")]
    [InlineData("retention:\n  keep-daily: seven\n", 6, "'keep-daily' must be a whole number, not 'seven'")]
    [InlineData("retention:\n  keep-daily: 1.5\n", 6, "'keep-daily' must be a whole number, not '1.5'")]
    [InlineData("retention:\n  keep-daily: [1]\n", 6, "'keep-daily' must be a whole number, not a list")]
    [InlineData("retention: 7\n", 5, "'retention' must be a mapping of keep-last, keep-hourly, keep-daily, keep-weekly, keep-monthly, keep-yearly to counts, not '7'")]
    [InlineData("consistency: [crash]\n", 5, "'consistency' must be a single value, not a list")]
    [InlineData("verification: daily\n", 5, "'verification' must be a mapping with schedule and sample-percent, not 'daily'")]
    public void Wrong_types_are_refused_at_the_value(string extra, int line, string reason)
    {
        var e = PolicyText.Fails(Head + extra);

        Assert.Equal(line, e.Line);
        Assert.Equal(reason, e.Reason);
        Assert.Equal($"p.yaml:{line}: {reason}", e.Message);
    }

    [Fact]
    public void Negative_keep_count_is_refused_at_its_line()
    {
        var e = PolicyText.Fails(Head + "retention:\n  keep-last: 12\n  keep-hourly: -1\n");

        Assert.Equal("p.yaml:7: 'keep-hourly' must be 0 or more, not -1", e.Message);
        Assert.Equal(16, e.Column);
    }

    [Fact]
    public void Retention_that_keeps_nothing_is_refused()
    {
        var e = PolicyText.Fails(Head + "retention:\n  keep-last: 0\n");

        Assert.Equal(6, e.Line);
        Assert.Contains("keeps nothing but the newest point", e.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_cron_expression_gives_quartz_diagnosis_at_the_schedule_line()
    {
        var e = PolicyText.Fails("name: p\nvms: [web]\nschedule: \"0 0 25 * * ?\"\nrepository: r\n");

        Assert.Equal((3, 11), (e.Line, e.Column));
        Assert.StartsWith("'schedule': '0 0 25 * * ?' is not a valid Quartz cron expression: ", e.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Five_field_unix_cron_gets_the_quartz_spelling_suggested()
    {
        var e = PolicyText.Fails("name: p\nvms: [web]\nschedule: \"*/5 * * * *\"\nrepository: r\n");

        Assert.Equal("p.yaml:3: 'schedule': '*/5 * * * *' has 5 fields (Unix cron); Quartz cron has 6 or 7, starting with seconds, and one of day-of-month and day-of-week must be '?': did you mean '0 */5 * * * ?'?", e.Message);
    }

    [Fact]
    public void Schedule_that_never_fires_again_is_refused()
    {
        var e = PolicyText.Fails("name: p\nvms: [web]\nschedule: 0 0 0 1 1 ? 2001\nrepository: r\n");

        Assert.Equal(3, e.Line);
        Assert.Contains("never fires after 2026-11-24 12:00:00Z", e.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_verification_schedule_is_refused_at_its_line()
    {
        var e = PolicyText.Fails(Head + "verification:\n  sample-percent: 10\n  schedule: nightly\n");

        Assert.Equal((7, 13), (e.Line, e.Column));
    }

    [Theory]
    [InlineData("0", "'sample-percent' must be more than 0 and at most 100, not 0")]
    [InlineData("100.5", "'sample-percent' must be more than 0 and at most 100, not 100.5")]
    [InlineData("ten", "'sample-percent' must be a number, not 'ten'")]
    public void Verification_sample_outside_0_100_is_refused(string percent, string reason)
    {
        var e = PolicyText.Fails(Head + $"verification:\n  schedule: 0 0 3 ? * SUN\n  sample-percent: {percent}\n");

        Assert.Equal(7, e.Line);
        Assert.Equal(reason, e.Reason);
    }

    [Fact]
    public void Empty_vms_list_is_refused()
    {
        var e = PolicyText.Fails("name: p\nschedule: 0 0 1 * * ?\nvms: []\nrepository: r\n");

        Assert.Equal("p.yaml:3: 'vms' is an empty list: name at least one VM, or write vms: \"*\" for every VM", e.Message);
    }

    [Theory]
    [InlineData("vms:\n", 1, "'vms' has no value; 'vms' must be a list of VM names or \"*\" for every VM")]
    [InlineData("vms: web\n", 1, "'vms' must be a list of VM names or \"*\" for every VM, not the single value 'web' (write vms: [web])")]
    [InlineData("vms: [web, web]\n", 1, "VM 'web' is listed twice in 'vms'")]
    [InlineData("vms:\n  - ok\n  - \"bad name\"\n", 3, "'bad name' is not a valid VM name (1-64 letters, digits, '.', '_' and '-', starting with a letter or digit)")]
    [InlineData("vms: [web, \"*\"]\n", 1, "\"*\" (every VM) cannot be combined with VM names; write vms: \"*\" on its own")]
    [InlineData("vms: {web: 1}\n", 1, "'vms' must be a list of VM names or \"*\" for every VM, not a mapping")]
    public void Bad_vm_lists_are_refused(string vms, int lineInVms, string reason)
    {
        var e = PolicyText.Fails("name: p\nschedule: 0 0 1 * * ?\nrepository: r\n" + vms);

        Assert.Equal(3 + lineInVms, e.Line);
        Assert.Equal(reason, e.Reason);
    }

    [Fact]
    public void Bare_star_is_a_yaml_alias_and_the_error_says_to_quote_it()
    {
        var e = PolicyText.Fails("name: p\nschedule: 0 0 1 * * ?\nrepository: r\nvms: *\n");

        Assert.Equal(4, e.Line);
        Assert.StartsWith("invalid YAML: ", e.Reason, StringComparison.Ordinal);
        Assert.EndsWith("write vms: \"*\" with quotes)", e.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_required_keys_are_each_reported_at_the_policy()
    {
        var e = PolicyText.Fails("\n\nname: p\nenabled: true\n");

        Assert.Equal(
            ["p.yaml:3: policy 'p' has no 'vms'", "p.yaml:3: policy 'p' has no 'schedule'", "p.yaml:3: policy 'p' has no 'repository'"],
            e.Errors.Select(x => x.ToString()));
        Assert.Equal(string.Join(Environment.NewLine, e.Errors), e.Message);
    }

    [Theory]
    [InlineData("name: \"\"\n", "'name' has no value")]
    [InlineData("name: -x\n", "'-x' is not a valid policy name (1-64 letters, digits, '.', '_' and '-', starting with a letter or digit)")]
    [InlineData("name: [a]\n", "'name' must be a single value, not a list")]
    public void Bad_names_are_refused(string name, string reason)
    {
        var e = PolicyText.Fails(name + "vms: [web]\nschedule: 0 0 1 * * ?\nrepository: r\n");

        Assert.Equal(1, e.Line);
        Assert.Equal(reason, e.Reason);
    }

    [Theory]
    [InlineData("repository: ftp://host/x", "'repository': 'ftp://host/x': unsupported scheme 'ftp'; expected a folder path, file:///path, s3://bucket/prefix or azure://container/prefix")]
    [InlineData("repository: s3://Bad_Bucket/x", "'repository': 's3://Bad_Bucket/x': 'Bad_Bucket' is not a valid S3 bucket name (3-63 lower-case letters, digits, '.' and '-')")]
    [InlineData("repository: s3://bucket/x?retries=3", "'repository': 's3://bucket/x?retries=3': unknown parameter 'retries' (s3 URLs accept endpoint, region, path-style, create-only)")]
    [InlineData("repository: azure://c/x", "'repository': 'azure://c/x': 'c' is not a valid Azure container name (3-63 lower-case letters, digits and single '-', starting with a letter or digit)")]
    [InlineData("repository: s3:///x", "'repository': 's3:///x' names no bucket")]
    [InlineData("repository:", "'repository' has no value")]
    [InlineData("passphrase: hunter2", "'passphrase': 'hunter2' is not a passphrase source; expected env:VARIABLE, file:PATH or none")]
    [InlineData("passphrase: env:1X", "'passphrase': '1X' is not an environment variable name (letters, digits and '_', not starting with a digit)")]
    [InlineData("passphrase: \"file:\"", "'passphrase': 'file:' names no passphrase file; expected env:VARIABLE, file:PATH or none")]
    [InlineData("consistency: app", "'consistency' must be crash or application, not 'app'")]
    [InlineData("agent-timeout: 30s", "'agent-timeout' applies only to consistency: application (crash-consistent backups do not ask the guest agent)")]
    [InlineData("consistency: application\nagent-timeout: 30", "'agent-timeout' must be a duration such as 30s, 5m or 1h, not '30'")]
    [InlineData("consistency: application\nagent-timeout: 2h", "'agent-timeout' must be more than 0s and at most 60m, not 2h")]
    [InlineData("consistency: application\nagent-timeout: 0s", "'agent-timeout' must be more than 0s and at most 60m, not 0s")]
    [InlineData("time-zone: Mars/Olympus", "'Mars/Olympus' is not a time zone known to the appliance (use an IANA name such as Europe/Berlin or UTC)")]
    public void Bad_values_are_refused_with_what_is_expected(string line, string reason)
    {
        var e = PolicyText.Fails("name: p\nvms: [web]\nschedule: 0 0 1 * * ?\n" + line + "\n" + (line.StartsWith("repository") ? string.Empty : "repository: r\n"));

        Assert.Equal(reason, e.Reason);
        Assert.Equal(3 + line.Count(c => c == '\n') + 1, e.Line);
    }

    [Fact]
    public void Key_given_twice_is_refused()
    {
        var e = PolicyText.Fails(Head + "schedule: 0 0 2 * * ?\n");

        Assert.Equal("p.yaml:5: key 'schedule' appears twice in the same mapping", e.Message);
    }

    [Theory]
    [InlineData("", 1, "the file holds no policy (expected a mapping with name, vms, schedule, repository, ...)")]
    [InlineData("# only a comment\n", 1, "the file holds no policy (expected a mapping with name, vms, schedule, repository, ...)")]
    [InlineData("[]\n", 1, "the list of policies is empty")]
    [InlineData("just text\n", 1, "the file holds 'just text', not a policy (a mapping with name, vms, schedule, repository, ...) or a list of policies")]
    [InlineData("- name: a\n  vms: [x]\n  schedule: 0 0 1 * * ?\n  repository: r\n- 42\n", 5, "a list item is '42', not a policy (a mapping with name, vms, schedule, repository, ...)")]
    [InlineData("name: a\nvms: [x]\nschedule: 0 0 1 * * ?\nrepository: r\n---\nname: b\n", 6, "the file holds more than one YAML document; write one policy per file, or a list of policies in one document")]
    [InlineData("name: a\nvms: [x\nschedule: 1\n", 2, null)]
    [InlineData("name: a\nvms: [x]\n  schedule: 1\n", 3, null)]
    [InlineData("name: 'a\nvms: [x]\n", 1, null)]
    public void Malformed_files_are_refused(string yaml, int line, string? reason)
    {
        var e = PolicyText.Fails(yaml);

        Assert.Equal(line, e.Line);
        if (reason is null)
        {
            Assert.StartsWith("invalid YAML: ", e.Reason, StringComparison.Ordinal);
            Assert.DoesNotContain("Idx:", e.Reason, StringComparison.Ordinal);
        }
        else
        {
            Assert.Equal(reason, e.Reason);
        }
    }

    [Fact]
    public void Duplicate_policy_name_across_files_names_both_places()
    {
        var e = Assert.Throws<Policies.Loading.PolicyException>(() => PolicyText.Load(
            ("a.yaml", PolicyText.Minimal("same")),
            ("b.yaml", "# second\n" + PolicyText.Minimal("same"))));

        Assert.Equal("b.yaml:2: policy name 'same' is already used at a.yaml:1", e.Message);
    }

    [Fact]
    public void Duplicate_policy_name_within_a_list_is_refused()
    {
        var e = PolicyText.Fails("- name: x\n  vms: [a]\n  schedule: 0 0 1 * * ?\n  repository: r\n- name: x\n  vms: [b]\n  schedule: 0 0 1 * * ?\n  repository: r\n");

        Assert.Equal("p.yaml:5: policy name 'x' is already used at p.yaml:1", e.Message);
    }

    [Fact]
    public void Every_error_of_every_file_is_collected_in_file_order()
    {
        var e = Assert.Throws<Policies.Loading.PolicyException>(() => PolicyText.Load(
            ("a.yaml", PolicyText.Minimal("a", "retention:\n  keep-last: -2\nenabled: maybe\n")),
            ("b.yaml", PolicyText.Minimal("b")),
            ("c.yaml", "name: c\nvms: []\nschedule: 0 0 1 * * ?\nrepository: r\n")));

        Assert.Equal(["a.yaml:6", "a.yaml:7", "c.yaml:2"], e.Errors.Select(x => $"{x.File}:{x.Line}"));
        Assert.Equal(("a.yaml", 6), (e.File, e.Line));
    }
}
