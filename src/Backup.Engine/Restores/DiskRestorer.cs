using Backup.Repository;

namespace Backup.Engine.Restores;

/// <summary>
/// Full restore of one disk of a restore point into an image file: written to a temporary file next to the target
/// (pack-ordered, direct I/O where the file system allows, zero chunks left as holes), flushed, then renamed over it,
/// so the target is either the old file or the complete restored disk.
/// </summary>
public static class DiskRestorer
{
    /// <summary>Restores disk <paramref name="disk"/> of <paramref name="pointId"/> to <paramref name="target"/>; returns its length.</summary>
    public static async Task<long> RestoreAsync(BackupRepository repository, string pointId, string disk, string target,
        IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(repository);
        var reader = await repository.OpenPointAsync(pointId, 16L << 20, cancellationToken).ConfigureAwait(false);
        if (reader.Manifest.Disks.All(d => d.Name != disk))
        {
            throw new ArgumentException($"restore point {pointId} has no disk '{disk}' (it has: {string.Join(", ", reader.Manifest.Disks.Select(d => d.Name))})");
        }

        string full = Path.GetFullPath(target);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string temp = full + ".restoring";
        try
        {
            await reader.RestoreDiskToFileAsync(disk, temp, progress, cancellationToken).ConfigureAwait(false);
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }

        return reader.DiskLength(disk);
    }
}
