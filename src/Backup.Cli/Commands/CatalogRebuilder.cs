using Backup.Engine.Backups;
using Backup.Service.Catalog;
using Backup.Service.Repositories;

namespace Backup.Cli.Commands;

/// <summary>Reads a repository's restore points into catalog rows (the repository is the source of truth).</summary>
internal static class CatalogRebuilder
{
    public static async Task<IReadOnlyList<PointRecord>> ReadAsync(RepositoryAccess access, string url, string passphraseSource)
    {
        using var repository = await access.OpenAsync(url, passphraseSource).ConfigureAwait(false);
        var rows = new List<PointRecord>();
        foreach (var summary in await repository.ListPointsAsync().ConfigureAwait(false))
        {
            if (summary.Problem is not null || summary.Vm is null || summary.Time is null)
            {
                Console.Error.WriteLine($"backup: {url}: restore point {summary.Id} skipped: {summary.Problem ?? "no VM or time"}");
                continue;
            }

            var manifest = await repository.ReadManifestAsync(summary.Id).ConfigureAwait(false);
            var configuration = manifest.Configuration is null
                ? null
                : await PointReading.ReadConfigurationAsync(await repository.OpenPointAsync(summary.Id, 4L << 20).ConfigureAwait(false)).ConfigureAwait(false);
            rows.Add(new PointRecord
            {
                Id = summary.Id,
                Vm = summary.Vm,
                Time = summary.Time.Value,
                Repository = url,
                PassphraseSource = passphraseSource,
                Parent = manifest.Parent,
                Consistency = configuration?.Consistency ?? "disk image",
                ConsistencyNote = configuration?.ConsistencyNote,
                HasMemoryState = configuration?.HasMemoryState ?? false,
                DiskBytes = summary.TotalDiskBytes,
                StunMilliseconds = configuration?.StunMilliseconds ?? 0,
            });
        }

        return rows;
    }
}
