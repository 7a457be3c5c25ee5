using Backup.Policies.Loading;

namespace Backup.Policies.Tests.Support;

/// <summary>Loads policies from YAML text given in a test, as if read from files in a policy folder.</summary>
internal static class PolicyText
{
    public const string DataFolder = "/var/lib/backup";

    public static readonly DateTimeOffset Now = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);

    public static PolicySet Load(string yaml, string file = "p.yaml") => PolicySet.FromSources([(file, yaml)], DataFolder, Now);

    public static PolicySet Load(params (string File, string Text)[] files) => PolicySet.FromSources(files, DataFolder, Now);

    public static PolicyException Fails(string yaml, string file = "p.yaml") => Assert.Throws<PolicyException>(() => Load(yaml, file));

    /// <summary>A valid policy with the required keys, followed by <paramref name="extra"/> lines.</summary>
    public static string Minimal(string name = "p", string extra = "") =>
        $"name: {name}\nvms: [web]\nschedule: \"0 0 * * * ?\"\nrepository: /srv/repo\n{extra}";

    /// <summary>The repository root folder (the one holding Backup.sln).</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Backup.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no Backup.sln above {AppContext.BaseDirectory}");
    }
}
