using System.Text;
using Backup.Policies.Model;

namespace Backup.Policies.Loading;

/// <summary>
/// Every protection policy of the appliance, loaded from a folder of policy files. Either the whole set is valid or it
/// is refused with a <see cref="PolicyException"/>; there is no partially loaded set. Immutable.
/// </summary>
public sealed class PolicySet
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private PolicySet(IReadOnlyList<Policy> policies) => Policies = policies;

    /// <summary>A set with no policy.</summary>
    public static PolicySet Empty { get; } = new([]);

    /// <summary>The policies, ordered by file name, then as written in the file.</summary>
    public IReadOnlyList<Policy> Policies { get; }

    /// <summary>
    /// Loads every <c>*.yaml</c> and <c>*.yml</c> file directly in <paramref name="directory"/> (not in subfolders;
    /// names starting with '.' are skipped, as editors' lock and swap files). Relative repository and passphrase file
    /// paths are resolved against <paramref name="dataFolder"/>. Throws <see cref="PolicyException"/> listing every error
    /// found in every file (the set is refused as a whole), <see cref="DirectoryNotFoundException"/> when the folder does
    /// not exist.
    /// </summary>
    public static PolicySet LoadDirectory(string directory, string dataFolder)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentException.ThrowIfNullOrEmpty(dataFolder);
        if (!Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"the policy folder '{directory}' does not exist");
        }

        var files = Directory.EnumerateFiles(directory)
            .Where(f => Path.GetFileName(f) is var name && !name.StartsWith('.')
                && (name.EndsWith(".yaml", StringComparison.Ordinal) || name.EndsWith(".yml", StringComparison.Ordinal)))
            .Order(StringComparer.Ordinal)
            .ToList();
        var errors = new List<PolicyError>();
        var sources = new List<(string File, string Text)>();
        foreach (var file in files)
        {
            try
            {
                sources.Add((file, File.ReadAllText(file, StrictUtf8)));
            }
            catch (DecoderFallbackException)
            {
                errors.Add(new PolicyError(file, 0, 0, "the file is not UTF-8 text"));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                errors.Add(new PolicyError(file, 0, 0, $"cannot read the file: {e.Message}"));
            }
        }

        return FromSources(sources, dataFolder, DateTimeOffset.UtcNow, errors);
    }

    /// <summary>
    /// The policies in <paramref name="sources"/> (file name, text), checked as <see cref="LoadDirectory"/> does; errors
    /// already found (e.g. unreadable files) come in <paramref name="errors"/>.
    /// </summary>
    internal static PolicySet FromSources(IEnumerable<(string File, string Text)> sources, string dataFolder, DateTimeOffset now, List<PolicyError>? errors = null)
    {
        errors ??= [];
        var policies = new List<Policy>();
        var byName = new Dictionary<string, Policy>(StringComparer.Ordinal);
        foreach (var (file, text) in sources)
        {
            var errorsBefore = errors.Count;
            var parsed = PolicyFileParser.Parse(text, file, dataFolder, now, errors);
            var fileErrors = errors.Skip(errorsBefore).OrderBy(e => e.Line).ThenBy(e => e.Column).ToList();
            errors.RemoveRange(errorsBefore, fileErrors.Count);
            errors.AddRange(fileErrors);
            foreach (var policy in parsed)
            {
                if (byName.TryGetValue(policy.Name, out var first))
                {
                    errors.Add(new PolicyError(file, policy.Location.Line, policy.Location.Column, $"policy name '{policy.Name}' is already used at {first.Location.File}:{first.Location.Line}"));
                    continue;
                }

                byName.Add(policy.Name, policy);
                policies.Add(policy);
            }
        }

        if (errors.Count > 0)
        {
            throw new PolicyException(errors);
        }

        return new PolicySet(policies);
    }

    /// <summary>
    /// The policies that protect the VM named <paramref name="vmName"/> (listing it, or <c>"*"</c>), in set order;
    /// disabled policies only when <paramref name="includeDisabled"/>.
    /// </summary>
    public IReadOnlyList<Policy> For(string vmName, bool includeDisabled = false)
    {
        ArgumentNullException.ThrowIfNull(vmName);
        return Policies.Where(p => (includeDisabled || p.Enabled) && p.Covers(vmName)).ToList();
    }

    /// <summary>The policy named <paramref name="name"/>, or null.</summary>
    public Policy? Find(string name) => Policies.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.Ordinal));
}
