using System.Globalization;
using System.Text.RegularExpressions;
using Backup.Policies.Model;
using Backup.Policies.Retention;
using Backup.Policies.Scheduling;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Backup.Policies.Loading;

/// <summary>
/// Reads one policy file (a mapping, or a list of mappings) into policies, strictly: every problem becomes a
/// <see cref="PolicyError"/> at the line and column of the offending key or value, and parsing goes on to find the rest.
/// </summary>
internal sealed partial class PolicyFileParser
{
    private const int MaxNameLength = 64;
    private static readonly TimeSpan MaxAgentTimeout = TimeSpan.FromHours(1);
    private static readonly string[] PolicyKeys = ["name", "enabled", "vms", "schedule", "time-zone", "repository", "passphrase", "consistency", "agent-timeout", "retention", "verification"];
    private static readonly string[] RetentionKeys = ["keep-last", "keep-hourly", "keep-daily", "keep-weekly", "keep-monthly", "keep-yearly"];
    private static readonly string[] VerificationKeys = ["schedule", "sample-percent"];

    private readonly string _file;
    private readonly string _dataFolder;
    private readonly DateTimeOffset _now;
    private readonly List<PolicyError> _errors;

    private PolicyFileParser(string file, string dataFolder, DateTimeOffset now, List<PolicyError> errors)
    {
        _file = file;
        _dataFolder = dataFolder;
        _now = now;
        _errors = errors;
    }

    /// <summary>
    /// The policies in <paramref name="text"/> (read from <paramref name="file"/>); each problem is added to
    /// <paramref name="errors"/> and the policy it concerns is left out. <paramref name="now"/> is when schedules must
    /// still fire after.
    /// </summary>
    public static List<Policy> Parse(string text, string file, string dataFolder, DateTimeOffset now, List<PolicyError> errors)
    {
        var parser = new PolicyFileParser(file, dataFolder, now, errors);
        return parser.ParseFile(text);
    }

    private List<Policy> ParseFile(string text)
    {
        var policies = new List<Policy>();
        var stream = new YamlStream();
        var parser = new Parser(new StringReader(text));
        try
        {
            stream.Load(parser);
        }
        catch (YamlException e)
        {
            var reason = MarkPrefix().Replace(e.Message, string.Empty);
            if (reason.StartsWith("Duplicate key ", StringComparison.Ordinal))
            {
                reason = $"key '{reason["Duplicate key ".Length..]}' appears twice in the same mapping";
            }
            else if (reason.Contains("alias", StringComparison.OrdinalIgnoreCase) || reason.Contains("anchor", StringComparison.OrdinalIgnoreCase))
            {
                reason = $"invalid YAML: {reason} (a bare * starts a YAML alias: write vms: \"*\" with quotes)";
            }
            else
            {
                reason = $"invalid YAML: {reason}";
            }

            _errors.Add(new PolicyError(_file, (int)e.Start.Line, (int)e.Start.Column, reason));
            return policies;
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet's scanner fails this way on some unterminated flow collections; the last event read is the
            // nearest known position.
            var mark = parser.Current?.End ?? Mark.Empty;
            _errors.Add(new PolicyError(_file, (int)mark.Line, (int)mark.Column, "invalid YAML: cannot read past this point (an unclosed [ or { or quote?)"));
            return policies;
        }

        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" })
        {
            _errors.Add(new PolicyError(_file, 1, 1, "the file holds no policy (expected a mapping with name, vms, schedule, repository, ...)"));
            return policies;
        }

        if (stream.Documents.Count > 1)
        {
            var second = stream.Documents[1].RootNode;
            Error(second, "the file holds more than one YAML document; write one policy per file, or a list of policies in one document");
            return policies;
        }

        var root = stream.Documents[0].RootNode;
        switch (root)
        {
            case YamlMappingNode mapping:
                AddIfParsed(policies, mapping);
                break;
            case YamlSequenceNode { Children.Count: 0 }:
                Error(root, "the list of policies is empty");
                break;
            case YamlSequenceNode sequence:
                foreach (var item in sequence.Children)
                {
                    if (item is YamlMappingNode itemMapping)
                    {
                        AddIfParsed(policies, itemMapping);
                    }
                    else
                    {
                        Error(item, $"a list item is {Describe(item)}, not a policy (a mapping with name, vms, schedule, repository, ...)");
                    }
                }

                break;
            default:
                Error(root, $"the file holds {Describe(root)}, not a policy (a mapping with name, vms, schedule, repository, ...) or a list of policies");
                break;
        }

        return policies;
    }

    private void AddIfParsed(List<Policy> policies, YamlMappingNode mapping)
    {
        if (ParsePolicy(mapping) is { } policy)
        {
            policies.Add(policy);
        }
    }

    private Policy? ParsePolicy(YamlMappingNode mapping)
    {
        var errorsBefore = _errors.Count;
        var values = ReadKeys(mapping, PolicyKeys, "a policy");

        var name = Required(values, mapping, "name", null) is { } nameNode ? ParseName(nameNode) : null;
        var enabled = values.TryGetValue("enabled", out var enabledNode) ? Boolean(enabledNode, "enabled") : true;
        var vms = Required(values, mapping, "vms", name) is { } vmsNode ? ParseVms(vmsNode) : null;
        var timeZone = values.TryGetValue("time-zone", out var zoneNode) ? ParseTimeZone(zoneNode) : null;
        var schedule = Required(values, mapping, "schedule", name) is { } scheduleNode ? ParseSchedule(scheduleNode, "schedule", timeZone) : null;
        var repository = Required(values, mapping, "repository", name) is { } repositoryNode ? Parse(repositoryNode, "repository", t => RepositoryTarget.Parse(t, _dataFolder)) : null;
        var passphrase = values.TryGetValue("passphrase", out var passphraseNode) ? Parse(passphraseNode, "passphrase", t => PassphraseSource.Parse(t, _dataFolder)) : PassphraseFromDefaultKeyFile.Instance;
        var consistency = values.TryGetValue("consistency", out var consistencyNode) ? ParseConsistency(consistencyNode) : ConsistencyMode.Crash;
        var agentTimeout = Policy.DefaultAgentTimeout;
        if (values.TryGetValue("agent-timeout", out var timeoutNode))
        {
            if (consistency == ConsistencyMode.Application)
            {
                agentTimeout = ParseDuration(timeoutNode, "agent-timeout", MaxAgentTimeout) ?? agentTimeout;
            }
            else if (consistency is not null)
            {
                Error(timeoutNode, "'agent-timeout' applies only to consistency: application (crash-consistent backups do not ask the guest agent)");
            }
        }

        var retention = values.TryGetValue("retention", out var retentionNode) ? ParseRetention(retentionNode) : RetentionRules.KeepEverything;
        var verification = values.TryGetValue("verification", out var verificationNode) ? ParseVerification(verificationNode, timeZone) : null;

        if (_errors.Count != errorsBefore || name is null || vms is null || schedule is null || repository is null || passphrase is null || consistency is null || retention is null)
        {
            return null;
        }

        return new Policy
        {
            Name = name,
            Enabled = enabled ?? true,
            Vms = vms,
            Schedule = schedule,
            Repository = repository,
            Passphrase = passphrase,
            Consistency = consistency.Value,
            AgentTimeout = agentTimeout,
            Retention = retention,
            Verification = verification,
            Location = new PolicyLocation(_file, (int)values["name"].Start.Line, (int)values["name"].Start.Column),
        };
    }

    /// <summary>The keys of <paramref name="mapping"/> with their values; unknown, duplicate and non-scalar keys are errors.</summary>
    private Dictionary<string, YamlNode> ReadKeys(YamlMappingNode mapping, string[] known, string what)
    {
        var values = new Dictionary<string, YamlNode>(StringComparer.Ordinal);
        foreach (var (keyNode, value) in mapping.Children)
        {
            if (keyNode is not YamlScalarNode { Value: { } key })
            {
                Error(keyNode, $"a key of {what} is {Describe(keyNode)}; keys are names such as {known[0]}");
                continue;
            }

            if (!known.Contains(key, StringComparer.Ordinal))
            {
                var near = known.FirstOrDefault(k => string.Equals(k, key, StringComparison.OrdinalIgnoreCase) || string.Equals(k, key.Replace('_', '-'), StringComparison.OrdinalIgnoreCase));
                var hint = near is not null ? $"did you mean '{near}'? " : string.Empty;
                Error(keyNode, $"unknown key '{key}' in {what}; {hint}known keys: {string.Join(", ", known)}");
                continue;
            }

            // YamlDotNet already refuses a key written twice in one mapping.
            values[key] = value;
        }

        return values;
    }

    private YamlNode? Required(Dictionary<string, YamlNode> values, YamlMappingNode mapping, string key, string? policyName)
    {
        if (values.TryGetValue(key, out var node))
        {
            return node;
        }

        var owner = policyName is null ? "the policy" : $"policy '{policyName}'";
        Error(mapping, $"{owner} has no '{key}'");
        return null;
    }

    private string? ParseName(YamlNode node)
    {
        if (Text(node, "name") is not { } name)
        {
            return null;
        }

        if (name.Length > MaxNameLength || !NamePattern().IsMatch(name))
        {
            Error(node, $"'{name}' is not a valid policy name (1-{MaxNameLength} letters, digits, '.', '_' and '-', starting with a letter or digit)");
            return null;
        }

        return name;
    }

    private VmSelection? ParseVms(YamlNode node)
    {
        const string Expected = "'vms' must be a list of VM names or \"*\" for every VM";
        switch (node)
        {
            case YamlScalarNode { Value: "*" }:
                return VmSelection.All;
            case YamlScalarNode scalar when IsNull(scalar):
                Error(node, $"'vms' has no value; {Expected}");
                return null;
            case YamlScalarNode scalar:
                Error(node, $"{Expected}, not the single value '{scalar.Value}' (write vms: [{scalar.Value}])");
                return null;
            case YamlSequenceNode { Children.Count: 0 }:
                Error(node, "'vms' is an empty list: name at least one VM, or write vms: \"*\" for every VM");
                return null;
            case YamlSequenceNode sequence:
            {
                var names = new List<string>();
                var seen = new HashSet<string>(StringComparer.Ordinal);
                var valid = true;
                foreach (var item in sequence.Children)
                {
                    if (item is not YamlScalarNode { Value: { } vm } scalarItem || IsNull(scalarItem))
                    {
                        Error(item, $"a VM in 'vms' is {Describe(item)}, not a VM name");
                        valid = false;
                    }
                    else if (VmSelection.DescribeInvalidName(vm) is { } problem)
                    {
                        Error(item, problem);
                        valid = false;
                    }
                    else if (!seen.Add(vm))
                    {
                        Error(item, $"VM '{vm}' is listed twice in 'vms'");
                        valid = false;
                    }
                    else
                    {
                        names.Add(vm);
                    }
                }

                return valid ? VmSelection.Of(names) : null;
            }

            default:
                Error(node, $"{Expected}, not {Describe(node)}");
                return null;
        }
    }

    private TimeZoneInfo? ParseTimeZone(YamlNode node)
    {
        if (Text(node, "time-zone") is not { } id)
        {
            return null;
        }

        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById(id);
        }
        catch (Exception e) when (e is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            Error(node, $"'{id}' is not a time zone known to the appliance (use an IANA name such as Europe/Berlin or UTC)");
            return null;
        }
    }

    private CronSchedule? ParseSchedule(YamlNode node, string key, TimeZoneInfo? timeZone)
    {
        if (Parse(node, key, text => CronSchedule.Parse(text, timeZone)) is not { } schedule)
        {
            return null;
        }

        if (schedule.NextFireTime(_now) is null)
        {
            Error(node, $"'{key}' '{schedule.Expression}' never fires after {_now:yyyy-MM-dd HH:mm:ss}Z");
            return null;
        }

        return schedule;
    }

    private ConsistencyMode? ParseConsistency(YamlNode node)
    {
        switch (Text(node, "consistency"))
        {
            case null:
                return null;
            case "crash":
                return ConsistencyMode.Crash;
            case "application":
                return ConsistencyMode.Application;
            case var other:
                Error(node, $"'consistency' must be crash or application, not '{other}'");
                return null;
        }
    }

    private TimeSpan? ParseDuration(YamlNode node, string key, TimeSpan max)
    {
        if (node is not YamlScalarNode { Style: ScalarStyle.Plain, Value: { } text } || DurationPattern().Match(text) is not { Success: true } match)
        {
            Error(node, $"'{key}' must be a duration such as 30s, 5m or 1h, not {Describe(node)}");
            return null;
        }

        if (!long.TryParse(match.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count > max.TotalSeconds)
        {
            Error(node, $"'{key}' {text} is longer than the maximum, {max.TotalMinutes:0}m");
            return null;
        }

        var duration = match.Groups[2].Value switch
        {
            "s" => TimeSpan.FromSeconds(count),
            "m" => TimeSpan.FromMinutes(count),
            _ => TimeSpan.FromHours(count),
        };
        if (duration <= TimeSpan.Zero || duration > max)
        {
            Error(node, $"'{key}' must be more than 0s and at most {max.TotalMinutes:0}m, not {text}");
            return null;
        }

        return duration;
    }

    private RetentionRules? ParseRetention(YamlNode node)
    {
        if (node is not YamlMappingNode mapping)
        {
            Error(node, $"'retention' must be a mapping of {string.Join(", ", RetentionKeys)} to counts, not {Describe(node)}");
            return null;
        }

        var errorsBefore = _errors.Count;
        var values = ReadKeys(mapping, RetentionKeys, "'retention'");
        var counts = RetentionKeys.Select(key => values.TryGetValue(key, out var value) ? Count(value, key) ?? -1 : 0).ToArray();
        if (_errors.Count != errorsBefore)
        {
            return null;
        }

        if (counts.All(c => c == 0))
        {
            Error(node, "'retention' keeps nothing but the newest point; set a count (e.g. keep-last: 1), or leave 'retention' out to keep every point");
            return null;
        }

        return new RetentionRules(counts[0], counts[1], counts[2], counts[3], counts[4], counts[5]);
    }

    private VerificationSettings? ParseVerification(YamlNode node, TimeZoneInfo? timeZone)
    {
        if (node is not YamlMappingNode mapping)
        {
            Error(node, $"'verification' must be a mapping with schedule and sample-percent, not {Describe(node)}");
            return null;
        }

        var values = ReadKeys(mapping, VerificationKeys, "'verification'");
        if (!values.TryGetValue("schedule", out var scheduleNode))
        {
            Error(mapping, "'verification' has no 'schedule'");
            return null;
        }

        var schedule = ParseSchedule(scheduleNode, "schedule", timeZone);
        var percent = VerificationSettings.DefaultSamplePercent;
        if (values.TryGetValue("sample-percent", out var percentNode))
        {
            if (percentNode is not YamlScalarNode { Style: ScalarStyle.Plain, Value: { } text }
                || !double.TryParse(text, NumberStyles.AllowDecimalPoint | NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out percent))
            {
                Error(percentNode, $"'sample-percent' must be a number, not {Describe(percentNode)}");
                return null;
            }

            if (!(percent > 0 && percent <= 100))
            {
                Error(percentNode, $"'sample-percent' must be more than 0 and at most 100, not {text}");
                return null;
            }
        }

        return schedule is null ? null : new VerificationSettings(schedule, percent);
    }

    private int? Count(YamlNode node, string key)
    {
        if (node is not YamlScalarNode { Style: ScalarStyle.Plain, Value: { } text }
            || !long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
        {
            Error(node, $"'{key}' must be a whole number, not {Describe(node)}");
            return null;
        }

        if (value < 0)
        {
            Error(node, $"'{key}' must be 0 or more, not {text}");
            return null;
        }

        if (value > int.MaxValue)
        {
            Error(node, $"'{key}' {text} is too large");
            return null;
        }

        return (int)value;
    }

    private bool? Boolean(YamlNode node, string key)
    {
        if (node is YamlScalarNode { Style: ScalarStyle.Plain, Value: "true" or "True" or "TRUE" })
        {
            return true;
        }

        if (node is YamlScalarNode { Style: ScalarStyle.Plain, Value: "false" or "False" or "FALSE" })
        {
            return false;
        }

        Error(node, $"'{key}' must be true or false, not {Describe(node)}");
        return null;
    }

    /// <summary>A scalar's text; a missing value, a list or a mapping is an error.</summary>
    private string? Text(YamlNode node, string key)
    {
        if (node is YamlScalarNode { Value: { Length: > 0 } text } scalar && !IsNull(scalar))
        {
            return text;
        }

        Error(node, node is YamlScalarNode ? $"'{key}' has no value" : $"'{key}' must be a single value, not {Describe(node)}");
        return null;
    }

    private T? Parse<T>(YamlNode node, string key, Func<string, T> parse)
        where T : class
    {
        if (Text(node, key) is not { } text)
        {
            return null;
        }

        try
        {
            return parse(text);
        }
        catch (FormatException e)
        {
            Error(node, $"'{key}': {e.Message}");
            return null;
        }
    }

    private void Error(YamlNode node, string reason) =>
        _errors.Add(new PolicyError(_file, (int)node.Start.Line, (int)node.Start.Column, reason));

    private static bool IsNull(YamlScalarNode scalar) =>
        scalar.Style == ScalarStyle.Plain && scalar.Value is null or "" or "~" or "null" or "Null" or "NULL";

    private static string Describe(YamlNode node) => node switch
    {
        YamlMappingNode => "a mapping",
        YamlSequenceNode => "a list",
        YamlScalarNode scalar when IsNull(scalar) => "empty",
        YamlScalarNode { Style: ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted } scalar => $"the quoted text \"{scalar.Value}\"",
        YamlScalarNode scalar => $"'{scalar.Value}'",
        _ => "an alias",
    };

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]*$", RegexOptions.CultureInvariant)]
    private static partial Regex NamePattern();

    [GeneratedRegex("^([0-9]+)(s|m|h)$", RegexOptions.CultureInvariant)]
    private static partial Regex DurationPattern();

    [GeneratedRegex(@"^\(Line: \d+, Col: \d+, Idx: \d+\) - \(Line: \d+, Col: \d+, Idx: \d+\): ", RegexOptions.CultureInvariant)]
    private static partial Regex MarkPrefix();
}
