namespace Backup.Repository.Tests.Support;

/// <summary>Makes objects of a local repository look old, so gc's grace period can be exercised without waiting.</summary>
public static class Aging
{
    public static void AgePacks(string repositoryFolder, TimeSpan age)
    {
        var packs = Path.Combine(repositoryFolder, "packs");
        if (!Directory.Exists(packs))
        {
            return;
        }

        var time = DateTime.UtcNow - age;
        foreach (var file in Directory.EnumerateFiles(packs, "*", SearchOption.AllDirectories))
        {
            File.SetLastWriteTimeUtc(file, time);
        }
    }

    public static long PackBytes(string repositoryFolder) =>
        Directory.EnumerateFiles(Path.Combine(repositoryFolder, "packs"), "*", SearchOption.AllDirectories).Sum(file => new FileInfo(file).Length);

    public static int PackCount(string repositoryFolder) =>
        Directory.EnumerateFiles(Path.Combine(repositoryFolder, "packs"), "*", SearchOption.AllDirectories).Count();
}
